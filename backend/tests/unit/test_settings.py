import pytest
from pydantic import ValidationError

from app.core.config import Settings, to_asyncpg_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db:5432/app",
        "postgres://u:p@db:5432/app",
        "postgresql+asyncpg://u:p@db:5432/app",
    ],
)
def test_database_url_spellings_all_name_asyncpg(url: str) -> None:
    assert to_asyncpg_url(url) == "postgresql+asyncpg://u:p@db:5432/app"


def test_a_non_postgres_url_is_refused_with_its_scheme() -> None:
    with pytest.raises(ValidationError, match="'mysql'"):
        Settings(database_url="mysql://u:p@db/app", _env_file=None)


def test_defaults_and_secret_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:s3cret@db/app")
    settings = Settings(_env_file=None)

    assert settings.db_pool_size == 20
    assert settings.db_max_overflow == 10
    assert settings.db_pool_pre_ping is True
    assert "s3cret" not in repr(settings)
    assert settings.require_database_url() == "postgresql+asyncpg://u:s3cret@db/app"


def test_unset_url_explains_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    settings = Settings(_env_file=None)
    assert settings.database_url is None
    with pytest.raises(RuntimeError, match="make run"):
        settings.require_database_url()


def test_a_login_window_shorter_than_the_longest_wait_is_refused() -> None:
    with pytest.raises(ValidationError, match="LOGIN_FAILURE_WINDOW_SECONDS"):
        Settings(login_failure_window_seconds=600, login_backoff_max_seconds=900, _env_file=None)


def test_a_job_stale_before_two_heartbeats_are_missed_is_refused() -> None:
    """Two workers would claim the job still worked on and do it at once."""
    with pytest.raises(ValidationError, match="JOB_STALE_SECONDS must be more than twice"):
        Settings(job_stale_seconds=10, job_heartbeat_seconds=15, _env_file=None)
    kept = Settings(job_stale_seconds=31, job_heartbeat_seconds=15, _env_file=None)
    assert kept.job_stale_seconds == 31


def test_fastapi_telemetry_is_off_unless_enabled() -> None:
    from app.core.config import Settings
    from app.main import create_app

    quiet = create_app(Settings(database_url="postgresql://u@h/d"))
    traced = create_app(Settings(database_url="postgresql://u@h/d", telemetry_enabled=True))

    assert quiet._native_telemetry.enabled() is False
    assert traced._telemetry["tracing"] is True


def test_trusted_proxies_are_read_as_networks() -> None:
    settings = Settings(trusted_proxies=["127.0.0.1", "10.1.2.3/8", "::1"], _env_file=None)
    assert settings.trusted_proxies == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


def test_a_trusted_proxy_that_is_no_address_is_refused_by_name() -> None:
    # uvicorn would take it for a host name that never matches, and trust nobody, silently.
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES: 'proxy-internal'"):
        Settings(trusted_proxies=["proxy-internal"], _env_file=None)


def test_webhook_ports_are_read_as_a_list_of_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).webhook_allowed_ports == [443, 80]
    monkeypatch.setenv("WEBHOOK_ALLOWED_PORTS", "[443, 8443]")
    assert Settings(_env_file=None).webhook_allowed_ports == [443, 8443]
    monkeypatch.setenv("WEBHOOK_ALLOWED_PORTS", "[443, 70000]")
    with pytest.raises(ValidationError, match=r"webhook_allowed_ports\.1"):
        Settings(_env_file=None)


def test_libpq_options_of_a_managed_database_url_reach_asyncpg_in_its_words() -> None:
    url = "postgres://u:p@db.example.com/app?sslmode=verify-full&target_session_attrs=read-write"
    assert to_asyncpg_url(url) == (
        "postgresql+asyncpg://u:p@db.example.com/app?ssl=verify-full"
        "&target_session_attrs=read-write"
    )


def test_an_option_asyncpg_cannot_take_is_refused_by_name_without_the_password() -> None:
    url = "postgresql://u:s3cret@db/app?application_name=talker"
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=url, _env_file=None)
    message = refused.value.errors()[0]["msg"]  # what the commands print (tests/service)
    assert "application_name" in message
    assert "s3cret" not in message
