"""The public export of the published experience sheets, next to their search page."""

from django.urls import path

from . import views_directory

app_name = "directory_export"
urlpatterns = [
    path(
        "experiences/export.<str:file_format>",
        views_directory.sheets_export,
        name="sheets",
    ),
]
