"""EncryptedTextField: encryption at rest, key rotation and the write-only admin widget."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from leadops.fields import DecryptionError, decrypt, encrypt, rotate
from tests.secretsapp.models import Credential

pytestmark = pytest.mark.django_db


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def key(settings):
    """A fresh single key, so no test depends on the suite's default key."""
    value = new_key()
    settings.LEADOPS_ENCRYPTION_KEYS = [value]
    return value


def raw_tokens(column: str = "secret") -> dict[int, str]:
    table = Credential._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {table} ORDER BY id")
        return dict(cursor.fetchall())


def set_raw(pk: int, token: str, column: str = "secret") -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Credential._meta.db_table} SET {column} = %s WHERE id = %s", [token, pk])


# --- functions and model field ---------------------------------------------


def test_it_round_trips_through_the_database(key):
    cred = Credential.objects.create(label="vk", secret="s3cr3t-value", note="a note")
    cred = Credential.objects.get(pk=cred.pk)
    assert (cred.secret, cred.note) == ("s3cr3t-value", "a note")


def test_it_stores_no_plaintext_in_the_column(key):
    cred = Credential.objects.create(label="vk", secret="s3cr3t-value", note="a note")
    token = raw_tokens()[cred.pk]
    assert "s3cr3t" not in token
    assert "a note" not in raw_tokens("note")[cred.pk]
    assert Fernet(key).decrypt(token.encode()) == b"s3cr3t-value"


def test_it_keeps_none_and_empty_string_unencrypted(key):
    cred = Credential.objects.create(label="vk", secret="x")
    assert raw_tokens("note")[cred.pk] == ""
    assert Credential.objects.get(pk=cred.pk).note == ""


def test_it_encrypts_with_a_random_iv_so_equal_values_differ(key):
    assert encrypt("same") != encrypt("same")
    assert decrypt(encrypt("same")) == "same"


def test_it_raises_decryption_error_for_a_row_under_an_unknown_key(key):
    cred = Credential.objects.create(label="vk", secret="placeholder")
    foreign = Fernet(new_key()).encrypt(b"other-plaintext").decode()
    set_raw(cred.pk, foreign)
    with pytest.raises(DecryptionError) as excinfo:
        Credential.objects.get(pk=cred.pk)
    message = str(excinfo.value)
    assert "other-plaintext" not in message
    assert foreign not in message
    assert "LEADOPS_ENCRYPTION_KEYS" in message


def test_it_raises_decryption_error_for_garbage(key):
    with pytest.raises(DecryptionError):
        decrypt("not-a-token")


def test_it_still_decrypts_with_an_old_key_listed_second(settings, key):
    cred = Credential.objects.create(label="vk", secret="s3cr3t-value")
    settings.LEADOPS_ENCRYPTION_KEYS = [new_key(), key]
    assert Credential.objects.get(pk=cred.pk).secret == "s3cr3t-value"


def test_it_encrypts_new_values_with_the_first_key(settings, key):
    first = new_key()
    settings.LEADOPS_ENCRYPTION_KEYS = [first, key]
    assert Fernet(first).decrypt(encrypt("v").encode()) == b"v"
    old_token = Fernet(key).encrypt(b"v").decode()
    assert Fernet(first).decrypt(rotate(old_token).encode()) == b"v"


def test_it_rejects_equality_lookups_but_allows_isnull(key):
    Credential.objects.create(label="vk", secret="s")
    with pytest.raises(FieldError, match="only 'isnull'"):
        list(Credential.objects.filter(secret="s"))
    assert Credential.objects.filter(secret__isnull=False).count() == 1


@pytest.mark.parametrize("bad", ["not-base64-!!", "c2hvcnQ=", ""])
def test_it_rejects_a_malformed_key_without_echoing_it(settings, bad):
    settings.LEADOPS_ENCRYPTION_KEYS = [new_key(), bad]
    with pytest.raises(ImproperlyConfigured) as excinfo:
        encrypt("x")
    message = str(excinfo.value)
    assert "LEADOPS_ENCRYPTION_KEYS" in message
    assert "#2" in message
    if bad:
        assert bad not in message
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_it_rejects_an_empty_key_list(settings):
    settings.LEADOPS_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="LEADOPS_ENCRYPTION_KEYS"):
        encrypt("x")


# --- rotate_encryption -------------------------------------------------------


def test_it_rotates_every_row_to_the_first_key(settings, key, capsys):
    creds = [Credential.objects.create(label=f"c{i}", secret=f"secret-{i}", note=f"note-{i}") for i in range(5)]
    Credential.objects.create(label="no note", secret="only-secret")
    before, notes_before = raw_tokens(), raw_tokens("note")
    new = new_key()
    settings.LEADOPS_ENCRYPTION_KEYS = [new, key]

    call_command("rotate_encryption", "--chunk-size", "2")

    out = capsys.readouterr().out
    assert "secretsapp.Credential: 6 rows rotated" in out
    assert "secret-" not in out
    after, notes_after = raw_tokens(), raw_tokens("note")
    assert all(after[pk] != before[pk] for pk in before)
    assert all(notes_after[pk] != notes_before[pk] for pk in notes_before if notes_before[pk])
    settings.LEADOPS_ENCRYPTION_KEYS = [new]
    for i, cred in enumerate(creds):
        fresh = Credential.objects.get(pk=cred.pk)
        assert (fresh.secret, fresh.note) == (f"secret-{i}", f"note-{i}")
    assert Credential.objects.get(label="no note").note == ""


def test_it_aborts_rotation_on_an_undecryptable_row_changing_nothing(settings, key):
    creds = [Credential.objects.create(label=f"c{i}", secret=f"secret-{i}") for i in range(3)]
    foreign = Fernet(new_key()).encrypt(b"lost-plaintext").decode()
    set_raw(creds[1].pk, foreign)
    before = raw_tokens()
    settings.LEADOPS_ENCRYPTION_KEYS = [new_key(), key]

    with pytest.raises(CommandError) as excinfo:
        call_command("rotate_encryption")

    message = str(excinfo.value)
    assert f"secretsapp.Credential pk={creds[1].pk}" in message
    assert "lost-plaintext" not in message and foreign not in message
    assert "\n" not in message
    assert raw_tokens() == before


# --- admin -------------------------------------------------------------------


@pytest.fixture
def cred(key):
    return Credential.objects.create(label="vk", secret="s3cr3t-value", note="private-note")


def change_url(cred) -> str:
    return reverse("admin:secretsapp_credential_change", args=[cred.pk])


def post_change(admin_client, cred, **data):
    return admin_client.post(change_url(cred), {"label": cred.label, "secret": "", "note": "", **data})


def test_it_never_renders_the_secret_or_its_token_in_the_change_page(admin_client, cred):
    html = admin_client.get(change_url(cred)).content.decode()
    for leaked in ("s3cr3t-value", "private-note", raw_tokens()[cred.pk], raw_tokens("note")[cred.pk]):
        assert leaked not in html
    assert '<span class="secret-status">set</span>' in html
    assert 'type="password" name="secret"' in html
    assert 'name="note__clear"' in html
    assert 'name="secret__clear"' not in html  # secret is not blank=True


def test_it_keeps_the_secret_when_the_input_is_left_empty(admin_client, cred):
    response = post_change(admin_client, cred, label="renamed")
    assert response.status_code == 302
    fresh = Credential.objects.get(pk=cred.pk)
    assert (fresh.label, fresh.secret, fresh.note) == ("renamed", "s3cr3t-value", "private-note")


def test_it_replaces_the_secret_when_a_new_value_is_typed(admin_client, cred):
    response = post_change(admin_client, cred, secret="brand-new-value")
    assert response.status_code == 302
    fresh = Credential.objects.get(pk=cred.pk)
    assert (fresh.secret, fresh.note) == ("brand-new-value", "private-note")
    assert "brand-new-value" not in raw_tokens()[cred.pk]


def test_it_clears_a_blank_field_when_clear_is_ticked(admin_client, cred):
    response = post_change(admin_client, cred, note__clear="on")
    assert response.status_code == 302
    fresh = Credential.objects.get(pk=cred.pk)
    assert (fresh.secret, fresh.note) == ("s3cr3t-value", "")
    html = admin_client.get(change_url(cred)).content.decode()
    assert '<span class="secret-status">not set</span>' in html


def test_it_rejects_a_new_value_together_with_clear(admin_client, cred):
    response = post_change(admin_client, cred, note="typed", note__clear="on")
    assert response.status_code == 200
    assert "not both" in response.content.decode()
    assert Credential.objects.get(pk=cred.pk).note == "private-note"


def test_it_adds_a_credential_through_the_admin(admin_client, key):
    url = reverse("admin:secretsapp_credential_add")
    html = admin_client.get(url).content.decode()
    assert '<span class="secret-status">not set</span>' in html
    response = admin_client.post(url, {"label": "new", "secret": "added-value", "note": ""})
    assert response.status_code == 302
    cred = Credential.objects.get(label="new")
    assert (cred.secret, cred.note) == ("added-value", "")


def test_it_requires_the_secret_on_the_add_page(admin_client, key):
    url = reverse("admin:secretsapp_credential_add")
    response = admin_client.post(url, {"label": "new", "secret": "", "note": ""})
    assert response.status_code == 200
    assert not Credential.objects.exists()


def test_it_does_not_echo_a_typed_value_when_the_form_is_redisplayed(admin_client, cred):
    response = post_change(admin_client, cred, label="", secret="typed-but-invalid-form")
    assert response.status_code == 200
    html = response.content.decode()
    assert "typed-but-invalid-form" not in html and "s3cr3t-value" not in html
    assert Credential.objects.get(pk=cred.pk).secret == "s3cr3t-value"


def test_it_reports_a_malformed_key_as_a_command_error_before_rotating(settings, key):
    Credential.objects.create(label="c", secret="secret-value")
    before = raw_tokens()
    settings.LEADOPS_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(CommandError, match="LEADOPS_ENCRYPTION_KEYS entry #1") as excinfo:
        call_command("rotate_encryption")
    assert "not-a-fernet-key" not in str(excinfo.value)
    assert raw_tokens() == before
