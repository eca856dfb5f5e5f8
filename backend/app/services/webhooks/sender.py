"""The delivery loop: sends the committed webhook deliveries, signed, and settles each attempt.

It runs beside the job workers (in the API process and in `make worker`), never on a request.
Each delivery is claimed in its own short transaction (FOR UPDATE SKIP LOCKED), sent outside any
transaction, and its outcome recorded in another. A 2xx answer is a success; anything else (an
error status, a redirect, which is never followed, a timeout, a refused address) is retried
after an exponential backoff with jitter, up to WEBHOOK_MAX_ATTEMPTS. An endpoint whose attempts
fail WEBHOOK_DISABLE_AFTER_FAILURES times in a row is disabled, with the reason, and its pending
deliveries are given up; its owner turns it on again with PATCH.

Signatures follow Standard Webhooks (the `standardwebhooks` library): the headers webhook-id
(the delivery's id, the same on every attempt, for the receiver's deduplication),
webhook-timestamp (this attempt's time) and webhook-signature (`v1,` + base64 HMAC-SHA256 of
`id.timestamp.body` under the endpoint's secret, decrypted just before; during the overlap of a
secret rotation, a second signature under the previous secret follows, after a space).
"""

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks import Webhook

from app.core.backoff import exponential_backoff
from app.core.config import Settings
from app.db.repositories import (
    ClaimedDelivery,
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
)
from app.db.session import UnitOfWork
from app.services.background_loops import run_rounds
from app.services.webhooks.addresses import (
    AddressRefusedError,
    IPAddress,
    PinnedTarget,
    checked_target,
)
from app.services.webhooks.endpoints import url_problem
from app.services.webhooks.secrets import SecretUnreadableError, webhook_secrets

logger = logging.getLogger(__name__)

USER_AGENT = "YouTube-Talker-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went: the answer's status, if any, and what went wrong, if anything."""

    response_code: int | None = None
    error: str | None = None  # None: it succeeded


class NotSentError(Exception):
    """The delivery may not be attempted now; the message says why, for the owner."""


def signed_headers(
    message_id: str, body: str, now: datetime, secrets: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with each secret (in clear), the
    signatures separated by spaces: a receiver accepts the message if one of them matches."""
    signatures = " ".join(Webhook(secret).sign(message_id, now, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def outcome_of(status: int, location: str | None) -> Outcome:
    if 200 <= status < 300:
        return Outcome(status)
    if 300 <= status < 400:
        to = f" to {location}" if location else ""
        return Outcome(status, f"answered HTTP {status}{to}; redirects are not followed")
    return Outcome(status, f"answered HTTP {status}")


def transport_failure(error: httpx.HTTPError) -> str:
    """What the endpoint's owner is told when no answer came. Never the address, the port or
    the system's words ("[Errno 111] Connect call failed ('10.0.0.5', 8081)"): whoever registers
    URLs could map what listens where. A refused connection and one closed without an answer
    read alike."""
    if isinstance(error, httpx.ConnectTimeout):
        return "could not connect"
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    tls = tls_error_behind(error)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return "TLS failed: the certificate was not accepted"
    if tls is not None:
        return "TLS failed"
    return "could not connect"


def tls_error_behind(error: BaseException) -> ssl.SSLError | None:
    """The TLS error that caused `error` (httpx wraps httpcore's, which wraps ssl's), if any."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


class WebhookSender:
    """Claims due deliveries and sends them, one at a time per loop."""

    def __init__(
        self,
        unit_of_work: UnitOfWork,
        settings: Settings,
        verify: ssl.SSLContext | bool = True,  # the certificates trusted: the system's
    ) -> None:
        self.unit_of_work = unit_of_work
        self.settings = settings
        self.verify = verify
        self.secrets = webhook_secrets(settings)  # a bad key stops the start, not a delivery
        connect, read = (
            settings.webhook_connect_timeout_seconds,
            settings.webhook_read_timeout_seconds,
        )
        # The read timeout bounds each read, not the answer: a receiver sending its headers a
        # byte at a time could hold an attempt for ever. The request has this long in all.
        self.attempt_seconds = 2 * connect + read
        # Longer than any attempt (the lookup, then the request) can take: a claim older than
        # this belongs to a loop that died.
        self.lease = timedelta(seconds=connect + self.attempt_seconds + 30)

    def new_client(self) -> httpx.AsyncClient:
        """No redirects, bounded waits, no proxy from the environment (it would connect to
        the name, not to the checked address), and no connection kept for another request:
        a pooled connection to an address verified for one name must not carry another's."""
        settings = self.settings
        timeout = httpx.Timeout(
            settings.webhook_read_timeout_seconds, connect=settings.webhook_connect_timeout_seconds
        )
        return httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            verify=self.verify,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def run_forever(self) -> None:
        """Send deliveries until cancelled; errors are logged and the loop goes on, backing
        off (a database outage logged a traceback every second)."""
        async with self.new_client() as client:
            await run_rounds(
                lambda: self.run_once(client),
                name="webhook sender",
                poll_seconds=self.settings.webhook_poll_seconds,
                log=logger,
            )

    async def run_once(self, client: httpx.AsyncClient) -> bool:
        """Claim, send and settle one due delivery; False when none was due."""
        async with self.unit_of_work() as session:
            delivery = await WebhookDeliveryRepository(session).claim_next(self.lease)
        if delivery is None:
            return False
        outcome = await self.send(client, delivery)
        await self.settle(delivery, outcome)
        return True

    async def send(self, client: httpx.AsyncClient, delivery: ClaimedDelivery) -> Outcome:
        try:
            target = await self.checked_target(delivery)
            secrets = self.secrets_of(delivery)
        except NotSentError as refusal:
            return Outcome(error=f"not sent: {refusal}")
        body = json.dumps(delivery.payload, separators=(",", ":"))
        now = datetime.now(UTC)
        headers = target.headers | signed_headers(str(delivery.id), body, now, secrets)
        return await self.post(client, target, body, headers)

    async def checked_target(self, delivery: ClaimedDelivery) -> PinnedTarget:
        """The URL checked again (the settings may have changed since it was registered), and
        the addresses its host resolves to now."""
        problem = url_problem(delivery.url, self.settings)
        if problem is not None:
            raise NotSentError(f"the URL {problem}")
        try:
            return await checked_target(
                delivery.url,
                allow_private=self.settings.webhook_allow_private_addresses,
                lookup_seconds=self.settings.webhook_connect_timeout_seconds,
            )
        except AddressRefusedError as error:
            raise NotSentError(str(error)) from None

    def secrets_of(self, delivery: ClaimedDelivery) -> list[str]:
        """The endpoint's secret, and the previous one during a rotation's overlap, decrypted
        just before they sign."""
        stored = [delivery.secret, delivery.previous_secret]
        try:
            return [self.secrets.decrypt(secret) for secret in stored if secret is not None]
        except SecretUnreadableError as error:
            logger.error("webhook endpoint %s: its secret: %s", delivery.endpoint_id, error)
            raise NotSentError("the server cannot read the endpoint's secret") from None

    async def post(
        self, client: httpx.AsyncClient, target: PinnedTarget, body: str, headers: dict[str, str]
    ) -> Outcome:
        """The signed request and its outcome, within the attempt's deadline."""
        try:
            async with asyncio.timeout(self.attempt_seconds):
                status, location = await self.post_in_turn(client, target, body, headers)
        except TimeoutError:
            return Outcome(error=f"timed out (no answer within {self.attempt_seconds:g} s)")
        except httpx.HTTPError as error:
            # The address and the system's words are for the operator's eyes only.
            logger.debug("webhook to %s: %r", target.url, error)
            return Outcome(error=transport_failure(error))
        return outcome_of(status, location)

    async def post_in_turn(
        self, client: httpx.AsyncClient, target: PinnedTarget, body: str, headers: dict[str, str]
    ) -> tuple[int, str | None]:
        """POST to the checked addresses in turn until one takes the connection; the answer's
        status and Location. Its body is never read: the status is all a delivery needs."""

        async def post_to(address: IPAddress) -> tuple[int, str | None]:
            request = client.build_request(
                "POST",
                target.url_at(address),
                content=body,
                headers=headers,
                extensions=target.extensions,
            )
            response = await client.send(request, stream=True)
            await response.aclose()
            return response.status_code, response.headers.get("location")

        *others, last = target.addresses
        for address in others:
            with contextlib.suppress(httpx.ConnectError):
                return await post_to(address)
        return await post_to(last)

    async def settle(self, delivery: ClaimedDelivery, outcome: Outcome) -> None:
        """Record the attempt: success, a retry later, or a failure; and the endpoint's count
        of failures in a row, which can disable it."""
        async with self.unit_of_work() as session:
            deliveries = WebhookDeliveryRepository(session)
            endpoints = WebhookEndpointRepository(session)
            if outcome.error is None:
                assert outcome.response_code is not None
                await deliveries.mark_succeeded(delivery.id, outcome.response_code)
                await endpoints.record_success(delivery.endpoint_id)
                logger.info("webhook delivery %s: delivered", delivery.id)
                return
            await self._settle_failure(deliveries, delivery, outcome.response_code, outcome.error)
            failures = await endpoints.record_failure(delivery.endpoint_id)
            if failures >= self.settings.webhook_disable_after_failures:
                reason = (
                    f"disabled after {failures} failed attempts in a row; the last: {outcome.error}"
                )
                await endpoints.disable(delivery.endpoint_id, reason)
                given_up = await deliveries.fail_pending_of(
                    delivery.endpoint_id, "not sent again: the endpoint was disabled"
                )
                logger.warning(
                    "webhook endpoint %s %s (%d pending deliveries given up)",
                    delivery.endpoint_id,
                    reason,
                    given_up,
                )

    async def _settle_failure(
        self,
        deliveries: WebhookDeliveryRepository,
        delivery: ClaimedDelivery,
        response_code: int | None,
        error: str,
    ) -> None:
        settings = self.settings
        if delivery.attempts >= settings.webhook_max_attempts:
            final = f"{error} (gave up after {delivery.attempts} attempts)"
            await deliveries.mark_failed(delivery.id, response_code, final)
            logger.warning("webhook delivery %s failed: %s", delivery.id, final)
            return
        delay = exponential_backoff(
            delivery.attempts,
            settings.webhook_retry_base_seconds,
            settings.webhook_retry_max_seconds,
        )
        await deliveries.retry_later(delivery.id, response_code, error, delay)
        logger.info("webhook delivery %s: %s; retrying in %s", delivery.id, error, delay)


def start_senders(
    unit_of_work: UnitOfWork, settings: Settings, count: int
) -> list[asyncio.Task[None]]:
    """`count` delivery loops sharing one sender."""
    sender = WebhookSender(unit_of_work, settings)
    return [
        asyncio.create_task(sender.run_forever(), name=f"webhook sender {number}")
        for number in range(1, count + 1)
    ]
