"""Public holidays by country: codes and names resolved, an unknown configured country refused."""

from datetime import date

import duckdb
import pytest
from pydantic import ValidationError

from sme_platform.lib.features.holiday_countries import country_code
from sme_platform.lib.features.settings import ForecastSettings
from sme_platform.lib.training.config import ForecastingConfigError, load_forecasting_config
from sme_platform.lib.training.frames import holiday_country, holiday_dates


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("DE", "DE"),
        (" de ", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("united_states", "US"),
        ("nyse", "NYSE"),  # market calendars, as accepted before names were
        ("ECB", "ECB"),
        ("Atlantis", None),
        ("", None),
        (None, None),
    ],
)
def test_a_country_is_its_iso_code_whether_written_as_a_code_or_a_name(value, code):
    assert country_code(value) == code


def test_a_country_name_gets_the_same_holidays_as_its_code():
    christmas = date(2024, 12, 25)
    assert christmas in holiday_dates("Germany", [2024])
    assert holiday_dates("Germany", [2024]) == holiday_dates("DE", [2024])
    assert holiday_dates(None, [2024]) == []
    assert len(holiday_dates("NYSE", [2024])) == 10


def test_an_unknown_configured_country_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ValidationError, match="'Atlantis' is not a country the holidays"):
        ForecastSettings(holiday_country="Atlantis")
    (tmp_path / "forecasting.yaml").write_text("demand_forecast:\n  holiday_country: Atlantis\n")
    with pytest.raises(ForecastingConfigError) as raised:
        load_forecasting_config(tmp_path)
    message = str(raised.value)
    assert "forecasting.yaml: demand_forecast.holiday_country: Value error" in message
    assert "give its ISO 3166 code (such as DE, GB" in message
    assert ForecastSettings(holiday_country="Germany").holiday_country == "Germany"


def test_the_locations_country_name_is_resolved_and_an_unknown_one_kept_as_written():
    con = duckdb.connect()
    con.execute("create schema staging")
    con.execute(
        "create table staging.locations as select * from (values "
        "('L1', 'United Kingdom'), ('L2', 'United Kingdom'), ('L3', 'France')) t(id, country)"
    )
    assert holiday_country(con, None) == "GB"
    assert holiday_country(con, "nl") == "NL"
    con.execute("update staging.locations set country = 'Atlantis'")
    assert holiday_country(con, None) == "Atlantis"
    assert holiday_dates("Atlantis", [2024]) == []
    assert holiday_country(duckdb.connect(), None) is None  # no locations table
