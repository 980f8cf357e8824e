"""Invitations keep only a hash of their token (it is a secret, like an API key): existing
pending links keep working, since each stored token is replaced by its hash."""

import hashlib

from django.db import migrations, models

import projects.models.project


def hash_tokens(apps, schema_editor):
    Invitation = apps.get_model("projects", "Invitation")
    for invitation in Invitation.objects.only("pk", "token").iterator():
        Invitation.objects.filter(pk=invitation.pk).update(
            token_hash=hashlib.sha256(invitation.token.encode()).hexdigest())


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='invitation',
            name='token_hash',
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(hash_tokens, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='invitation',
            name='token',
        ),
        migrations.AlterField(
            model_name='invitation',
            name='token_hash',
            field=models.CharField(default=projects.models.project._unusable_token_hash, editable=False, max_length=64, unique=True),
        ),
    ]
