from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from simulator.actors.settings import ActorSettings
from simulator.delays import ZERO, Exponential, Fixed, Normal, Uniform, parse_delay

millis = st.integers(min_value=0, max_value=600_000)
seeds = st.integers(min_value=0, max_value=2**64)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Fixed(0)),
        ("fixed:250", Fixed(250)),
        ("  FIXED : 250 ", Fixed(250)),
        ("1500", Fixed(1500)),
        ("uniform:100:900", Uniform(100, 900)),
        ("uniform:5:5", Uniform(5, 5)),
        ("exp:400", Exponential(400)),
        ("normal:1000:250", Normal(1000, 250)),
        ("normal:0.5:0", Normal(0.5, 0)),
    ],
)
def test_parses_every_documented_form(text: str, expected: object) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "soon",
        "fixed",
        "fixed:",
        "fixed:-1",
        "fixed:1:2",
        "uniform:900:100",
        "uniform:1",
        "exp:-3",
        "exp:1:2",
        "normal:100",
        "normal:100:-1",
        "normal:-5:1",
        "poisson:3",
        "fixed:inf",
        "fixed:nan",
        "-20",
    ],
)
def test_rejects_malformed_specifications_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="delay"):
        parse_delay(text)


@given(a=millis, b=millis, seed=seeds)
def test_uniform_samples_stay_within_bounds(a: int, b: int, seed: int) -> None:
    low, high = min(a, b), max(a, b)
    sample = parse_delay(f"uniform:{low}:{high}").sample_ms(random.Random(seed))
    assert low <= sample <= high


@given(mu=millis, sigma=millis, seed=seeds)
def test_normal_is_clamped_at_zero(mu: int, sigma: int, seed: int) -> None:
    assert parse_delay(f"normal:{mu}:{sigma}").sample_ms(random.Random(seed)) >= 0


@given(mean=millis, seed=seeds)
def test_exponential_is_never_negative(mean: int, seed: int) -> None:
    assert parse_delay(f"exp:{mean}").sample_ms(random.Random(seed)) >= 0


@given(ms=millis, seed=seeds)
def test_fixed_is_always_the_same(ms: int, seed: int) -> None:
    assert parse_delay(f"fixed:{ms}").sample_ms(random.Random(seed)) == ms
    assert ZERO.sample_ms(random.Random(seed)) == 0


@given(
    text=st.sampled_from(["uniform:0:5000", "exp:700", "normal:900:400", "fixed:3"]),
    seed=seeds,
)
def test_the_same_generator_state_gives_the_same_delay(text: str, seed: int) -> None:
    delay = parse_delay(text)
    assert delay.sample_ms(random.Random(seed)) == delay.sample_ms(random.Random(seed))


@given(
    text=st.sampled_from(
        ["0", "fixed:250", "uniform:100:900", "exp:400", "normal:1000:250", "fixed:0.5"]
    )
)
def test_string_form_parses_back_to_the_same_delay(text: str) -> None:
    delay = parse_delay(text)
    assert parse_delay(str(delay)) == delay


def test_exponential_and_normal_means_are_roughly_their_parameters() -> None:
    rng = random.Random(7)
    exp_samples = [parse_delay("exp:400").sample_ms(rng) for _ in range(20_000)]
    normal_samples = [parse_delay("normal:1000:200").sample_ms(rng) for _ in range(20_000)]
    assert 360 < statistics.fmean(exp_samples) < 440
    assert 980 < statistics.fmean(normal_samples) < 1020


def test_settings_read_delays_and_rates_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYMENT_DELAY", "exp:300")
    monkeypatch.setenv("KITCHEN_COOK_DELAY", "uniform:10:20")
    monkeypatch.setenv("COURIER_FAIL_RATE", "0.25")
    monkeypatch.setenv("SIM_SEED", "demo")
    settings = ActorSettings()
    assert settings.delays.payment == Exponential(300)
    assert settings.delays.kitchen_cook == Uniform(10, 20)
    assert settings.courier_fail_rate == 0.25
    assert settings.sim_seed == "demo"


def test_zero_delay_flag_and_benchmark_preset_zero_every_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTORS_ZERO_DELAY", "true")
    flagged = ActorSettings(payment_delay="fixed:900")
    preset = ActorSettings.benchmark(kitchen_cook_delay="exp:900", actors_zero_delay=True)
    for settings in (flagged, preset):
        delays = settings.delays
        assert {
            delays.payment,
            delays.kitchen_accept,
            delays.kitchen_cook,
            delays.courier_pickup,
            delays.courier_travel,
        } == {ZERO}
    assert ActorSettings(actors_zero_delay=False).delays.payment != ZERO


def test_default_delays_let_a_person_watch_but_not_wait_long() -> None:
    delays = ActorSettings(actors_zero_delay=False).delays
    parts = [
        delays.payment,
        delays.kitchen_accept,
        delays.kitchen_cook,
        delays.courier_pickup,
        delays.courier_travel,
    ]
    rng = random.Random(1)
    totals = [sum(d.sample_ms(rng) for d in parts) for _ in range(200)]
    assert 2_000 < statistics.fmean(totals) < 10_000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("payment_delay", "uniform:9:1"),
        ("kitchen_reject_rate", "1.5"),
        ("payment_silence_rate", "-0.1"),
        ("courier_travel_delay", "later"),
    ],
)
def test_settings_refuse_bad_values(name: str, value: str) -> None:
    with pytest.raises(ValidationError):
        ActorSettings.model_validate({name: value})
