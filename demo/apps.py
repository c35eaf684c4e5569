from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data loader (`manage.py demo`): the only app allowed to import every other app."""

    name = "demo"
    verbose_name = "Demo"
