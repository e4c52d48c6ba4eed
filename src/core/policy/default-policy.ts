// The rotor.yaml that `rotor init` writes: the runbook's inventory and cadences. Provider secrets
// start as `manual` (init needs no provider credential); a commented entry under each shows the
// kind that rotates it by itself (test/provider-key-pair-policy.test.ts keeps those valid).

export const DEFAULT_POLICY_YAML = `# Rotor policy: every secret this app depends on, how often it must change, and how.
# Validate in your editor with: rotor schema > rotor.schema.json
# Values never go in this file; they enter by generation, stdin or --from-file.
version: 1

# Rotation goes through environments in this order.
environments: [staging, production]

defaults:
  grace: 24h   # how long the previous version is still accepted after a rotation
  warn: 14d    # "due soon" this long before a secret is due

secrets:
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
    grace: 1h
    notes: Short TTL tokens mitigate risk
    config: { algorithm: HS256 }

  JWT_REFRESH_SECRET:
    kind: jwt-hmac
    cadence: 90d
    grace: 14d
    notes: Dual validation window for outstanding refresh tokens
    config: { algorithm: HS256 }

  METRICS_AUTH_TOKEN:
    kind: random
    cadence: 180d
    notes: Low exposure scope
    config: { bytes: 32, encoding: base64url }

  SMTP_PASSWORD:
    kind: manual
    cadence: 180d
    notes: Align with provider policy
    config: { instructions: "Create a new SMTP credential at the e-mail provider, then paste it here" }
    # Rotor can rotate it itself (SES, SendGrid or Mailgun: a new credential, a real SMTP login with
    # it before it is used, the old one revoked after the grace window; docs/providers.md).
    # Replace this entry with, e.g. for SendGrid (the admin key is read from the environment):
    #   SMTP_CREDENTIAL:
    #     kind: smtp
    #     cadence: 180d
    #     config:
    #       adapter: sendgrid
    #       admin: { env: SENDGRID_ADMIN_KEY }
    #       smtp: { host: smtp.sendgrid.net, port: 587, tls: starttls }
    #       variables: { username: SMTP_USER, password: SMTP_PASSWORD }

  TWILIO_AUTH_TOKEN:
    kind: manual
    cadence: 180d
    notes: Rotate the auth token in the Twilio console (secondary token, then promote)
    # Rotor can rotate it itself (Twilio's secondary token, verified, promoted at Twilio once the
    # grace window is over; docs/providers.md). Replace this entry with:
    #   TWILIO_AUTH_TOKEN:
    #     kind: twilio
    #     cadence: 180d
    #     grace: 1h
    #     config: { credential: auth-token, accountSid: AC00000000000000000000000000000000 }

  S3_ACCESS_KEY_ID:
    kind: manual
    cadence: 180d
    notes: Prefer an IAM role with limited lifetime
    config: { minLength: 16 }

  S3_SECRET_ACCESS_KEY:
    kind: manual
    cadence: 180d
    notes: Rotate together with S3_ACCESS_KEY_ID
    config: { minLength: 16 }
    # Best: an IAM role with short-lived credentials, which needs no rotation at all. Otherwise
    # Rotor can rotate the key itself, both halves as one value (verified with STS and S3 before
    # use, deactivated after the grace window; docs/providers.md). Replace both entries with:
    #   S3_ACCESS_KEY:
    #     kind: aws-iam-access-key
    #     cadence: 180d
    #     config:
    #       userName: my-app
    #       admin: { env: AWS_ROTOR_ADMIN }
    #       s3: { bucket: my-bucket }
    #       variables: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY }

  DATABASE_URL:
    kind: manual
    cadence: { target: 180d, max: 365d }
    notes: Coordinate with connection pool restart; new DB user with the same grants
    config: { minLength: 10 }

  ROTOR_MASTER_KEY:
    kind: master-key
    cadence: 365d
    notes: Rotor's own master key; rotate with \`rotor master-key rotate\`

# The scheduler (\`rotor scheduler\`, \`rotor serve\`) rotates what is due and can rotate by itself
# (per secret: \`window: { days: [sat, sun], hours: "02:00-05:00", timezone: Europe/Berlin }\`,
# \`auto: false\`), and reminds people of the rest.
scheduler: { retries: 3, backoff: 15m }   # a failed scheduled rotation: 3 retries, 15m, 30m, 60m apart

notify:
  reminders: [14d, 1d, 0d]   # before the due date; then every overdueEvery while overdue
  overdueEvery: 1d
  # Credentials come from environment variables, never from this file:
  # email:
  #   smtp: { url: { env: SMTP_URL } }        # smtp://user:password@host:587 (smtps:// for TLS)
  #   from: rotor@example.com
  #   to: [platform-team@example.com]
  # webhook:                                  # Slack-compatible JSON, HMAC-signed
  #   - url: { env: SLACK_WEBHOOK_URL }       # or a plain https:// URL
  #     key: { env: REMINDER_WEBHOOK_KEY }
`;
