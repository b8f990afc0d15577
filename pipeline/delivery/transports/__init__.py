"""Where a message goes: SES, or a dry run. A transport knows no database."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.delivery.transports.base import Transport
from pipeline.delivery.transports.dryrun import DryRunTransport
from pipeline.delivery.transports.ses import SesTransport
from pipeline.settings import Settings


def make_transport(
    settings: Settings, *, dry_run: bool, max_connections: int = 16
) -> Callable[[], Transport]:
    """SES by the standard AWS configuration, or the dry run; made when called, so that
    a missing region is named only once the list and the issue are known good."""

    def make() -> Transport:
        if dry_run:
            return DryRunTransport()
        return SesTransport(
            configuration_set=settings.configuration_set, max_connections=max_connections
        )

    return make
