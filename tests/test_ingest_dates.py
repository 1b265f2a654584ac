from datetime import UTC, date, datetime

import pytest

from policydiff.core.errors import UsageError
from policydiff.sources.ingest.dates import date_from_filename, parse_date, parse_timestamp

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SEED_TIME = datetime(2017, 4, 22, 8, 22, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-04-22", datetime(2017, 4, 22, tzinfo=UTC)),
        ("2017-04-22T08:22:16Z", SEED_TIME),
        ("2017-04-22T08:22:16", SEED_TIME),
        ("2017-04-22 08:22:16", SEED_TIME),
        ("2017-04-22T10:22:16+02:00", SEED_TIME),
        ("2017-04-22T03:22:16-0500", SEED_TIME),
        ("2017-04-22T08:22:16.5z", SEED_TIME.replace(microsecond=500000)),
        ("2017-04-22T08:22", SEED_TIME.replace(second=0)),
        ("20170422082216", SEED_TIME),
        ("20170422T082216Z", SEED_TIME),
        ("2017-04-22T082216Z", SEED_TIME),
        ("  2017-04-22T08:22:16Z  ", SEED_TIME),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2017-02-30",
        "2017-13-01",
        "2017-04-22T25:00",
        "20171332082216",
        "2017-04-22T08:22+25:00",
        "22/04/2017",
        "yesterday",
        "",
        "2017-0422",
    ],
)
def test_impossible_or_unknown_timestamps(text: str) -> None:
    with pytest.raises(UsageError, match="invalid time"):
        parse_timestamp(text, now=NOW)


def test_future_refused_with_small_skew() -> None:
    assert parse_timestamp("2024-06-02", now=NOW) == datetime(2024, 6, 2, tzinfo=UTC)
    with pytest.raises(UsageError, match="in the future"):
        parse_timestamp("2024-06-03T12:00:01Z", now=NOW)


def test_default_now_is_the_clock() -> None:
    with pytest.raises(UsageError, match="in the future"):
        parse_timestamp("2999-01-01")


def test_parse_date() -> None:
    assert parse_date("2016-02-08") == date(2016, 2, 8)
    # Effective dates may be ahead (published before in force), but not decades ahead.
    ahead = date(datetime.now(UTC).year + 2, 1, 1)
    assert parse_date(ahead.isoformat()) == ahead
    with pytest.raises(UsageError, match="more than 10 years ahead"):
        parse_date("2999-01-01")
    with pytest.raises(UsageError):
        parse_date("2016-02-30")
    with pytest.raises(UsageError):
        parse_date("8 February 2016")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2016-02-08.md", datetime(2016, 2, 8, tzinfo=UTC)),
        ("2017-04-22T082216Z.wayback.txt", SEED_TIME),
        ("2017-04-22T08:22:16Z.txt", SEED_TIME),
        ("20170422082216.html", SEED_TIME),
        ("privacy-2016-02-08-final.txt", datetime(2016, 2, 8, tzinfo=UTC)),
        ("dir/2016-02-08.md", datetime(2016, 2, 8, tzinfo=UTC)),
        ("2017-02-30.md", None),
        ("201704220822161.html", None),
        ("20170422.html", None),
        ("privacy.md", None),
    ],
)
def test_date_from_filename(name: str, expected: datetime | None) -> None:
    assert date_from_filename(name) == expected
