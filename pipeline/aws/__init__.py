"""The publisher's AWS account as the newsletter needs it: `aws setup` makes the sending
identity, the configuration set, its event destination, the SNS topic and its subscription
(or an SQS queue); `doctor` checks every condition of a real send, DNS included, and can
prove the events' wiring end to end with SES's mailbox simulator.

`clients.py` calls AWS and turns a refusal into a message naming the IAM action;
`records.py` the DNS records to publish; `setup.py` the plan and its steps; `settings_file.py`
writes what setup made into `newsletter.toml`; `dnscheck.py` reads DNS as the world sees it;
`doctor.py` the checks and `roundtrip.py` the mailbox-simulator round trip.
"""
