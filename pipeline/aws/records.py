"""The DNS records a sending domain publishes for SES: Easy DKIM's three CNAMEs, the
custom MAIL FROM domain's MX and SPF, and a DMARC policy when the domain has none."""

from __future__ import annotations

from dataclasses import dataclass

SPF = "v=spf1 include:amazonses.com ~all"


@dataclass(frozen=True, slots=True)
class Record:
    name: str  # fully qualified, without the final dot
    type: str  # CNAME, MX, TXT
    value: str  # as a zone file writes it, without quotes for TXT
    why: str

    def zone_line(self) -> str:
        value = f'"{self.value}"' if self.type == "TXT" else f"{self.value}."
        if self.type == "MX":
            priority, _, host = self.value.partition(" ")
            value = f"{priority} {host}."
        return f"{self.name}.\t3600\tIN\t{self.type}\t{value}"


def dkim_records(domain: str, tokens: list[str]) -> list[Record]:
    return [
        Record(f"{token}._domainkey.{domain}", "CNAME", f"{token}.dkim.amazonses.com", "DKIM")
        for token in tokens
    ]


def mail_from_mx(region: str) -> str:
    return f"feedback-smtp.{region}.amazonses.com"


def mail_from_records(mail_from: str, region: str) -> list[Record]:
    return [
        Record(mail_from, "MX", f"10 {mail_from_mx(region)}", "MAIL FROM: bounces come back"),
        Record(mail_from, "TXT", SPF, "SPF for the MAIL FROM domain"),
    ]


def dmarc_value(report_to: str) -> str:
    """A policy that only asks for reports (to `report_to`): nothing is refused while the
    publisher learns who sends as the domain."""
    return f"v=DMARC1; p=none; rua=mailto:{report_to}"


def records(
    domain: str, tokens: list[str], mail_from: str, region: str, *, dmarc_to: str | None
) -> list[Record]:
    """Every record to publish; a DMARC one reporting to `dmarc_to` when it is given (the
    domain has none)."""
    found = [*dkim_records(domain, tokens), *mail_from_records(mail_from, region)]
    if dmarc_to is None:
        return found
    return [*found, Record(f"_dmarc.{domain}", "TXT", dmarc_value(dmarc_to), "DMARC (reports)")]


def zone_snippet(found: list[Record]) -> str:
    return "\n".join(record.zone_line() for record in found) + "\n"
