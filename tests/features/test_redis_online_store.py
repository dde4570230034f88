"""The production online store: our layout on a real Redis through redis-py, fed by the
pipeline, read by serving, purged on erasure, with ACL users and TLS URLs understood."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import redis
from polars.testing import assert_frame_equal

from crm_core.exports import export_crm
from crm_intel.context import AppContext
from features.erasure import forget_contacts
from features.online.reader import OnlineStoreUnavailableError, open_online_reader
from features.online.redis_store import LAYOUTS_KEY, PREFIX
from features.pipeline import build_and_publish
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ACL_USER, ACL_PASSWORD = "crm-intel-online-test", "a long test password"


def test_features_are_served_from_redis_and_erasure_removes_them(
    generated_crm: AppContext, redis_url: str, tmp_path: Path
) -> None:
    settings = FeatureSettings(home=tmp_path / "var", redis_url=redis_url)
    built = build_and_publish(export_crm(generated_crm.engine), settings)
    assert not settings.online_path.exists(), "nothing went to the embedded SQLite store"
    client = redis.Redis.from_url(redis_url)
    try:
        # one hash per contact of the latest snapshot, the refresh's progress and the layouts set
        assert client.dbsize() == built.contacts_latest + 2
        (layout,) = client.smembers(LAYOUTS_KEY)
        assert client.hget(f"{PREFIX}:{layout.decode()}:refresh", "finished") == b"1"
    finally:
        client.close()

    latest = pl.read_parquet(settings.snapshot_path).filter(pl.col(EVENT_TIMESTAMP) == built.as_of_dates[-1])
    sample = latest.sample(25, seed=4).sort(ENTITY_KEY)
    reader = open_online_reader(settings, open_store(settings))
    wanted = [*sample[ENTITY_KEY].to_list(), 10_000_000]
    served = reader.read("churn_v1", wanted)
    assert_frame_equal(served.head(25), sample.select(served.columns), check_exact=True)
    assert served.row(25)[1:] == (None,) * (served.width - 1)

    erased, kept = int(sample[ENTITY_KEY][0]), int(sample[ENTITY_KEY][1])
    assert forget_contacts(settings, [erased]).online_rows_removed == 1
    after = reader.read("churn_v1", [erased, kept])
    assert after[EVENT_TIMESTAMP].to_list()[0] is None and after[EVENT_TIMESTAMP].to_list()[1] is not None
    assert forget_contacts(settings, [erased]).online_rows_removed == 0, "a second purge finds nothing"


@pytest.fixture
def acl_user(redis_url: str) -> Iterator[str]:
    """A Redis ACL user limited to our online keys; the URL that signs in as it."""
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(ACL_USER, enabled=True, passwords=[f"+{ACL_PASSWORD}"], keys=[f"{PREFIX}:*"], commands=["+@all"])
    base, _, database = redis_url.rpartition("/")
    address = base.removeprefix("redis://")
    try:
        yield f"redis://{ACL_USER}:{ACL_PASSWORD.replace(' ', '%20')}@{address}/{database}"
    finally:
        admin.acl_deluser(ACL_USER)
        admin.close()


def test_an_acl_user_url_is_used_and_a_wrong_password_is_refused_clearly(
    generated_crm: AppContext, acl_user: str, tmp_path: Path
) -> None:
    settings = FeatureSettings(home=tmp_path / "var", redis_url=acl_user)
    built = build_and_publish(export_crm(generated_crm.engine), settings)
    assert built.online.written_now == built.contacts_latest
    reader = open_online_reader(settings, open_store(settings))
    some = pl.read_parquet(settings.snapshot_path)[ENTITY_KEY][:3].to_list()
    assert reader.read("churn_v1", some)[EVENT_TIMESTAMP].null_count() == 0

    wrong = FeatureSettings(home=settings.home, redis_url=acl_user.replace("%20password", "%20guess"))
    refused = open_online_reader(wrong, open_store(wrong))
    with pytest.raises(OnlineStoreUnavailableError, match="could not be read") as caught:
        refused.probe()
    assert ACL_PASSWORD not in str(caught.value) and "guess" not in str(caught.value)


def test_a_rediss_url_speaks_tls(generated_crm: AppContext, redis_url: str, tmp_path: Path) -> None:
    """Our server speaks plain Redis: a client that really starts TLS fails the handshake there
    (a client that ignored the scheme would have answered PONG), within the reply timeout the
    URL sets, instead of hanging."""
    tls = redis_url.replace("redis://", "rediss://", 1) + "?ssl_cert_reqs=none&socket_timeout=2"
    settings = FeatureSettings(home=tmp_path / "var", redis_url=tls)
    reader = open_online_reader(settings, open_store(generated_crm.features))
    began = time.monotonic()
    with pytest.raises(OnlineStoreUnavailableError, match="could not be read"):
        reader.probe()
    assert time.monotonic() - began < 20, "the URL's socket_timeout bounded the wait"
