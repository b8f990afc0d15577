"""What comes back: SES events (SNS, SQS, files), the suppression rules they trigger, campaign
reports.
"""
