"""The AWS clients `aws setup` and `doctor` use, and one way to call them: a refusal by IAM
becomes an error naming the action and the policy line to add.

Configured the standard AWS way, as the SES transport is: the credential chain,
`AWS_REGION`, and `AWS_ENDPOINT_URL_<SERVICE>` for a local endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from pipeline.delivery.transports.ses import aws_region
from pipeline.errors import NewsletterError

# Every IAM action `aws setup`, `doctor` and `events poll` use (the README lists them).
IAM_ACTIONS: Final = (
    "ses:GetAccount",
    "ses:GetEmailIdentity",
    "ses:CreateEmailIdentity",
    "ses:PutEmailIdentityMailFromAttributes",
    "ses:GetConfigurationSet",
    "ses:CreateConfigurationSet",
    "ses:GetConfigurationSetEventDestinations",
    "ses:CreateConfigurationSetEventDestination",
    "ses:UpdateConfigurationSetEventDestination",
    "ses:SendEmail",
    "sns:ListTopics",
    "sns:CreateTopic",
    "sns:ListSubscriptionsByTopic",
    "sns:Subscribe",
    "sqs:GetQueueUrl",
    "sqs:CreateQueue",
    "sqs:GetQueueAttributes",
    "sqs:SetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
)
_DENIED: Final = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnauthorizedOperation",
}
_NOT_FOUND: Final = {
    "NotFoundException",
    "NotFound",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
}


class AwsError(NewsletterError):
    """AWS refused or failed a request `aws setup` or `doctor` made."""


class AccessDenied(AwsError):
    """The credentials lack an IAM permission; `action` names it."""

    def __init__(self, action: str, detail: str) -> None:
        super().__init__(
            f"AWS refused {action}: these credentials are not allowed to call it ({detail})",
            hint=f"add {action!r} to the IAM policy of these credentials, for example the "
            f"statement {policy_line(action)}; the README lists every action newsletter needs",
        )
        self.action = action


def policy_line(action: str) -> str:
    """The IAM policy statement that allows `action`."""
    return json.dumps({"Effect": "Allow", "Action": action, "Resource": "*"})


@dataclass
class Aws:
    """The three clients, made once per command."""

    ses: Any
    sns: Any
    sqs: Any
    region: str

    @classmethod
    def connect(cls) -> Aws:
        import boto3
        from botocore.config import Config

        region = aws_region()
        config = Config(
            region_name=region,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=20,
        )
        return cls(
            ses=boto3.client("sesv2", config=config),
            sns=boto3.client("sns", config=config),
            sqs=boto3.client("sqs", config=config),
            region=region,
        )


def call(client: Any, action: str, **params: Any) -> Any:
    """`client.<operation>(**params)` for the IAM `action` (`ses:GetEmailIdentity`):
    AccessDenied names the action; a missing resource is None for a read (Get*, List*);
    anything else is an AwsError with AWS's own words."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    operation = _snake(action.partition(":")[2])
    method: Callable[..., Any] = getattr(client, operation)
    try:
        return method(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        if code in _DENIED:
            raise AccessDenied(action, f"{code}: {message}") from None
        if code in _NOT_FOUND and operation.startswith(("get_", "list_")):
            return None
        raise AwsError(f"AWS refused {action}: {code}: {message}") from None
    except NoCredentialsError:
        raise AwsError(
            "no AWS credentials found",
            hint="set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ) from None
    except BotoCoreError as exc:
        raise AwsError(f"cannot reach AWS for {action}: {exc}") from None


def _pages(client: Any, action: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item under `key` of a List* call, page after page (NextToken)."""
    token: str | None = None
    while True:
        page = call(client, action, **params, **({"NextToken": token} if token else {})) or {}
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def find_topic(sns: Any, name: str) -> str | None:
    """The ARN of the SNS topic called `name`, or None."""
    for topic in _pages(sns, "sns:ListTopics", "Topics"):
        if str(topic["TopicArn"]).rpartition(":")[2] == name:
            return str(topic["TopicArn"])
    return None


def subscriptions(sns: Any, topic_arn: str) -> list[dict[str, Any]]:
    """The topic's subscriptions (a pending one's SubscriptionArn: PendingConfirmation)."""
    return list(_pages(sns, "sns:ListSubscriptionsByTopic", "Subscriptions", TopicArn=topic_arn))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
