"""Helpers for import tests: CSV bodies and uploads."""

from django.core.files.uploadedfile import SimpleUploadedFile

HEADER = "userName,givenName,sn,mail,accountStatus,preferences/marketing"


def csv_file(text: str, name: str = "users.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def upload(
    api,
    text,
    *,
    collection="managed/user",
    unique="userName",
    name="users.csv",
    extra: str = "",
    files=None,
):
    query = f"?uniqueProperty={unique}" if unique is not None else "?"
    data = {"upload": files if files is not None else [csv_file(text, name)]}
    return api.post(f"/upload/csv/{collection}{query}{extra}", data, format="multipart")
