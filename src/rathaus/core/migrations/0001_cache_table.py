"""The table of Django's database cache (settings.CACHES: the failed-lookup counts of core.throttle).

`createcachetable` creates the table of every configured DatabaseCache that does not exist yet (nothing for
another cache backend), so `rathaus migrate` is the only set-up step."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
