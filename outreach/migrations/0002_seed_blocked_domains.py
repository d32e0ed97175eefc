from django.db import migrations

SEEDED = [
    "avito.ru",
    "yandex.ru",
    "2gis.ru",
    "hh.ru",
    "flamp.ru",
    "otzovik.com",
    "irecommend.ru",
    "youtube.com",
    "profi.ru",
    "yell.ru",
    "workspace.ru",
    "vuzopedia.ru",
    "orgpage.ru",
    "vk.com",
    "reddit.com",
    "pikabu.ru",
]


def seed(apps, schema_editor):
    BlockedDomain = apps.get_model("outreach", "BlockedDomain")
    for domain in SEEDED:
        BlockedDomain.objects.get_or_create(domain=domain, defaults={"reason": "aggregator / marketplace (seeded)"})


class Migration(migrations.Migration):
    dependencies = [("outreach", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
