"""Our batch strike-out of owned items against implicit's own filtered `recommend`, including the
users who own so many of their best candidates that they take implicit's path."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from implicit.cpu.als import AlternatingLeastSquares
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from models.gc_pause import cycle_collection_paused, without_cycle_collection
from models.top_items import HEADROOM, top_items

USERS, ITEMS = 400, 120
Fitted = tuple[AlternatingLeastSquares, csr_matrix]


def purchases(seed: int) -> csr_matrix:
    """Skewed baskets; the first 20 users own most of the catalogue's popular half, so many of
    their top candidates are owned."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, ITEMS + 1)
    popularity /= popularity.sum()
    rows, cols = [], []
    for user in range(USERS):
        size = 70 if user < 20 else int(rng.integers(1, 15))
        items = rng.choice(ITEMS, size=size, replace=False, p=popularity)
        rows.extend([user] * size)
        cols.extend(items.tolist())
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(USERS, ITEMS))


@pytest.fixture(scope="module")
def fitted() -> Fitted:
    liked = purchases(seed=5)
    with threadpool_limits(1, "blas"):  # implicit warns (an error under our pytest settings) otherwise
        model = AlternatingLeastSquares(factors=8, iterations=5, random_state=3)
        model.fit(liked, show_progress=False)
    return model, liked


@pytest.mark.parametrize("n", [1, 10, 40])
def test_owned_items_struck_out_in_batch_equal_implicits_filtered_lists(fitted: Fitted, n: int) -> None:
    model, liked = fitted
    rows = np.arange(USERS)
    expected_items, expected_scores = model.recommend(rows, liked, N=n, filter_already_liked_items=True)
    items, scores = top_items(model, rows, liked, n, exclude_owned=True)
    np.testing.assert_array_equal(items, expected_items)
    # float32 dot products, summed in another order by another BLAS call: equal to a few ulps.
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
    owners = np.repeat(rows, np.diff(liked.indptr))
    owned = set(zip(owners.tolist(), liked.indices.tolist(), strict=True))
    assert not any((user, item) in owned for user in rows.tolist() for item in items[user].tolist())


def test_users_short_of_candidates_are_among_the_rows_checked(fitted: Fitted) -> None:
    """Guard for the test above: the heavy buyers must really take the fallback path."""
    model, liked = fitted
    n = 10
    candidates, _ = model.recommend(np.arange(20), liked[:20], N=n + HEADROOM, filter_already_liked_items=False)
    unowned = [len(set(row.tolist()) - set(liked[user].indices.tolist())) for user, row in enumerate(candidates)]
    assert min(unowned) < n, "no heavy buyer ran short: the fallback path went untested"


def test_a_subset_of_rows_in_any_order_gets_its_own_lists(fitted: Fitted) -> None:
    model, liked = fitted
    rows = np.array([399, 3, 150, 7, 0])
    expected, _ = model.recommend(rows, liked[rows], N=10, filter_already_liked_items=True)
    items, _ = top_items(model, rows, liked[rows], 10, exclude_owned=True)
    np.testing.assert_array_equal(items, expected)


def test_owned_items_stay_when_asked(fitted: Fitted) -> None:
    model, liked = fitted
    rows = np.arange(20)
    expected, _ = model.recommend(rows, liked[rows], N=10, filter_already_liked_items=False)
    items, _ = top_items(model, rows, liked[rows], 10, exclude_owned=False)
    np.testing.assert_array_equal(items, expected)
    assert any(item in liked[user].indices for user in range(20) for item in items[user]), "owned items kept"


def test_a_paused_collector_comes_back_on_after_nesting_and_errors() -> None:
    assert gc.isenabled()

    @without_cycle_collection
    def failing() -> None:
        assert not gc.isenabled()
        raise RuntimeError("boom")

    with cycle_collection_paused():
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner pause must not turn the collector back on"
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        failing()
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
