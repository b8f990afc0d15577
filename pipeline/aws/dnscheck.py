"""DNS as the world sees it, read with dnspython: the system's resolver, or the servers
named in the `dns_servers` setting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.nameserver
import dns.resolver

from pipeline.aws import records as dns_records
from pipeline.aws.check import FAIL, OK, WARN, Check
from pipeline.settings.schema import dns_server


class DnsUnavailable(Exception):
    """No answer at all (a timeout, a server failure): not the same as "no such record"."""


@dataclass
class Dns:
    servers: list[str] = field(default_factory=list)
    timeout: float = 3.0
    _resolver: Any = None

    def resolver(self) -> dns.resolver.Resolver:
        if self._resolver is None:
            if self.servers:
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(*found)
                    for found in map(dns_server, self.servers)
                    if found is not None
                ]
            else:
                try:
                    resolver = dns.resolver.Resolver()
                except dns.resolver.NoResolverConfiguration as exc:
                    raise DnsUnavailable(
                        f'no system resolver ({exc}); set dns_servers, like ["1.1.1.1"]'
                    ) from None
            resolver.lifetime = self.timeout
            self._resolver = resolver
        return self._resolver  # type: ignore[no-any-return]

    def _answers(self, name: str, kind: str) -> list[Any]:
        try:
            return list(self.resolver().resolve(name, kind, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:  # no answer at all: timeouts, SERVFAIL
            raise DnsUnavailable(f"{name} {kind}: {exc}") from None

    def txt(self, name: str) -> list[str]:
        return [
            b"".join(answer.strings).decode("utf-8", "replace")
            for answer in self._answers(name, "TXT")
        ]

    def cname(self, name: str) -> list[str]:
        return [
            answer.target.to_text().rstrip(".").lower() for answer in self._answers(name, "CNAME")
        ]

    def mx(self, name: str) -> list[str]:
        return [
            answer.exchange.to_text().rstrip(".").lower() for answer in self._answers(name, "MX")
        ]

    def dmarc(self, domain: str) -> str | None:
        """The domain's DMARC record, or None."""
        found = [t for t in self.txt(f"_dmarc.{domain}") if t.lower().startswith("v=dmarc1")]
        return found[0] if found else None


def dmarc_tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            tags[key.strip().lower()] = value.strip()
    return tags


def aligned(mail_from: str, domain: str) -> bool:
    """Relaxed SPF alignment: the MAIL FROM domain is the From domain or under it (the
    organisational domain is taken as the From domain itself: no public suffix list)."""
    mail_from, domain = mail_from.lower(), domain.lower()
    return mail_from == domain or mail_from.endswith("." + domain)


def dns_checks(
    dns: Dns, domain: str, mail_from: str, region: str, tokens: list[str]
) -> Iterator[Check]:
    """SPF and MX of the MAIL FROM domain, the DKIM CNAMEs, DMARC and its alignment."""
    spf = [t for t in dns.txt(mail_from) if t.lower().startswith("v=spf1")]
    if not spf:
        yield Check(
            "dns",
            f"SPF {mail_from}",
            FAIL,
            "no SPF record",
            f'publish TXT "{dns_records.SPF}" at {mail_from}',
        )
    elif "include:amazonses.com" not in spf[0].lower():
        yield Check(
            "dns",
            f"SPF {mail_from}",
            FAIL,
            f"{spf[0]!r} does not allow SES",
            f"add include:amazonses.com to the SPF record at {mail_from}",
        )
    else:
        yield Check("dns", f"SPF {mail_from}", OK, spf[0])
    mx = dns_records.mail_from_mx(region)
    if mx in dns.mx(mail_from):
        yield Check("dns", f"MX {mail_from}", OK, mx)
    else:
        yield Check(
            "dns",
            f"MX {mail_from}",
            FAIL,
            f"no MX to {mx}",
            f"publish MX 10 {mx} at {mail_from}",
        )
    for record in dns_records.dkim_records(domain, tokens):
        found = dns.cname(record.name)
        if record.value in found:
            yield Check("dns", f"DKIM {record.name}", OK, record.value)
        else:
            now = f"points at {found[0]}" if found else "missing"
            yield Check(
                "dns",
                f"DKIM {record.name}",
                FAIL,
                now,
                f"publish CNAME {record.name} -> {record.value}",
            )
    yield from _dmarc(dns, domain, mail_from)


def _dmarc(dns: Dns, domain: str, mail_from: str) -> Iterator[Check]:
    name = f"DMARC _dmarc.{domain}"
    record = dns.dmarc(domain)
    if record is None:
        yield Check(
            "dns",
            name,
            FAIL,
            "no DMARC record: Gmail and Yahoo refuse bulk mail without one",
            f'publish TXT "{dns_records.dmarc_value("<a mailbox you read>")}" at _dmarc.{domain}',
        )
        return
    tags = dmarc_tags(record)
    if not aligned(mail_from, domain):
        yield Check(
            "dns",
            name,
            FAIL,
            f"the MAIL FROM domain {mail_from} is not under {domain}: SPF does not align",
            f"set mail_from_domain to a subdomain of {domain} and run `aws setup`",
        )
    elif tags.get("aspf") == "s" and mail_from != domain:
        yield Check(
            "dns",
            name,
            WARN,
            f"aspf=s: SPF of {mail_from} does not align strictly (DKIM still does)",
            "drop aspf=s from the DMARC record (relaxed alignment is the default)",
        )
    else:
        yield Check("dns", name, OK, f"{record} (SPF and DKIM align)")
