"""Moves the recovery codes django-otp's static devices kept in clear into RecoveryCodeDevice, as
digests (docs/decisions/2026-12-07-hashed-recovery-codes.md), and deletes the clear ones. A user's
static devices become one device; its throttling and last use are kept.

Not reversible into clear codes (that is the point): going back leaves the accounts without
recovery codes, to be generated again from the security page."""

from django.conf import settings
from django.db import migrations
from django.utils.crypto import salted_hmac

# The digest of core.models_security.recovery_code_digest, frozen here as it was when the codes
# were moved.
SALT = "pluriel.core.recovery-code"


def _digest(user_id, token):
    value = f"{user_id}:{token.strip().replace(' ', '').replace('-', '').lower()}"
    return salted_hmac(SALT, value, secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()


def hash_codes(apps, schema_editor):
    StaticDevice = apps.get_model("otp_static", "StaticDevice")
    StaticToken = apps.get_model("otp_static", "StaticToken")
    RecoveryCodeDevice = apps.get_model("core", "RecoveryCodeDevice")
    RecoveryCode = apps.get_model("core", "RecoveryCode")
    for static in StaticDevice.objects.order_by("user_id", "pk"):
        device, _created = RecoveryCodeDevice.objects.get_or_create(
            user_id=static.user_id,
            defaults={
                "name": "recovery",
                "confirmed": static.confirmed,
                "throttling_failure_timestamp": static.throttling_failure_timestamp,
                "throttling_failure_count": static.throttling_failure_count,
                "last_used_at": static.last_used_at,
            },
        )
        digests = {
            _digest(static.user_id, t)
            for t in StaticToken.objects.filter(device=static).values_list("token", flat=True)
        }
        existing = set(device.codes.values_list("digest", flat=True))
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(device=device, digest=d) for d in sorted(digests - existing)]
        )
    StaticToken.objects.all().delete()
    StaticDevice.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0015_recovery_code_device"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(hash_codes, migrations.RunPython.noop)]
