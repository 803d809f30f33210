from hypothesis import given
from hypothesis import strategies as st

from saga_contracts.tokens import token_matches, tracking_token

SECRET = "s" * 32


def test_the_issued_token_matches_its_order_only() -> None:
    token = tracking_token(SECRET, "order-1")
    assert token_matches(SECRET, "order-1", token)
    assert not token_matches(SECRET, "order-2", token)
    assert not token_matches("other" * 8, "order-1", token)


@given(st.one_of(st.none(), st.text()))
def test_any_other_text_is_refused_without_an_error(candidate: str | None) -> None:
    assert not token_matches(SECRET, "order-1", candidate) or candidate == tracking_token(
        SECRET, "order-1"
    )


def test_non_ascii_and_lone_surrogates_are_refused() -> None:
    assert not token_matches(SECRET, "order-1", "é" * 43)
    assert not token_matches(SECRET, "order-1", "\udcff")
