"""`crm-intel models ...`: what each model predicts, and its champions, challengers and rollbacks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from crm_intel.cli.support import context
from crm_intel.console import console

models_app = typer.Typer(
    help="What each model predicts; champions, challengers and rollbacks in the model registry.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@models_app.command("status")
def models_status() -> None:
    """Each model's champion, the versions that held the title before, and the latest verdict."""
    from crm_intel.app import modelling
    from crm_intel.cli.summary import model_status_table

    console.print(model_status_table(modelling.model_status(context())))


@models_app.command("rollback")
def models_rollback(name: Annotated[str, typer.Argument(help="model name, e.g. churn")]) -> None:
    """Give the champion alias back to the previous champion (servers follow within their refresh)."""
    from crm_intel.app import modelling

    ctx = context()
    done = modelling.roll_back(ctx, name)
    console.print(
        f"{name}: champion moved back from v{done.from_version} to v{done.to_version}; running servers "
        f"follow within {ctx.serving.champion_refresh_seconds:g} s"
    )


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="model name, e.g. churn")],
    version: Annotated[str, typer.Argument(help="the registry version to make champion")],
    force: Annotated[bool, typer.Option(help="promote even where the version lost to the champion")] = False,
) -> None:
    """Make a version the champion by hand; refused where its own run found the champion better."""
    from crm_intel.app import modelling

    ctx = context()
    done = modelling.promote(ctx, name, version, force=force)
    before = f"v{done.from_version}" if done.from_version else "no champion"
    console.print(
        f"{name}: champion moved from {before} to v{done.to_version}; running servers follow within "
        f"{ctx.serving.champion_refresh_seconds:g} s"
    )


@models_app.command("readiness")
def models_readiness(name: Annotated[str, typer.Argument(help="a scorer, e.g. churn")]) -> None:
    """Before training: the rows the model would learn from, its positives, months of history,
    missing values, the columns it uses and the fields it refuses as leaky, and what is short of
    the minimums, in words. Exits 1 when it is not ready to train."""
    from crm_intel.app import modelling
    from crm_intel.cli.summary import readiness_table

    check = modelling.readiness(context(), name)
    console.print(readiness_table(check))
    if not check.ready:
        raise typer.Exit(1)


@models_app.command("outcomes")
def models_outcomes(name: Annotated[str, typer.Argument(help="a scorer, e.g. churn")]) -> None:
    """Were the scores right? For each month whose horizon has passed, the scores standing at its
    start against what then happened: ROC-AUC beside the holdout's, and per band the mean score
    and the share it happened to. Kept on the champion's run for the model page. Exits 1 when
    the newest month fell below the holdout by more than CRM_OUTCOME_WARNING_MARGIN."""
    from crm_intel.app import modelling
    from crm_intel.cli.summary import outcome_table

    checked = modelling.check_outcomes(context(), name)
    console.print(outcome_table(checked))
    if checked.warning:
        console.print(f"[bold red]warning[/]: {escape(checked.warning)}")
        raise typer.Exit(1)


@models_app.command("backtest")
def models_backtest(
    name: Annotated[str, typer.Argument(help="a scorer, e.g. churn")],
    steps: Annotated[int, typer.Option(min=2, max=24, help="how many steps to walk the newest rows in")] = 10,
) -> None:
    """Walk a model forward: refitted before each step of its newest rows on everything known
    before, judged on the step. What retraining as data arrives would have scored, beside what
    `train` judges (one fit on the older rows). Nothing is registered."""
    from crm_intel.app import modelling
    from crm_intel.cli.summary import backtest_table

    result, saved = modelling.backtest(context(), name, steps)
    console.print(backtest_table(result))
    console.print(f"figures written to {saved}")


@models_app.command("define")
def models_define(
    name: Annotated[str | None, typer.Argument(help="one model, e.g. churn (default: every model)")] = None,
) -> None:
    """Each model's definition in words: what it predicts, for whom, from what, and where it is
    declared (built in, or the data home's models.toml, which may replace a built-in)."""
    from crm_intel.cli.summary import definitions_text

    catalogue = context().catalogue
    entries = [catalogue.get(name)] if name is not None else list(catalogue)
    console.print(definitions_text(entries))
