"""A second, non-Samba directory for tests: OpenLDAP's slapd through python-ldap's
`slapdtest`, with the AD attributes a sign-in reads (adlike-schema.ldif), on
ldap:// with StartTLS, its certificate from python-ldap's test CA."""

from __future__ import annotations

import base64
import shutil
import uuid
from pathlib import Path

import slapdtest

PACKAGES = "slapd ldap-utils"
SUFFIX = "dc=lincoln,dc=example,dc=edu"


def available() -> str | None:
    if not shutil.which("slapd", path="/usr/sbin:/usr/local/sbin:/usr/bin"):
        return f"OpenLDAP's slapd is not installed (apt-get install {PACKAGES})"
    if not shutil.which("ldapadd"):
        return f"OpenLDAP's tools are not installed (apt-get install {PACKAGES})"
    return None


class Slapd(slapdtest.SlapdObject):
    suffix = SUFFIX
    openldap_schema_files = (
        "core.ldif",
        "cosine.ldif",
        "inetorgperson.ldif",
        str(Path(__file__).with_name("adlike-schema.ldif")),
    )

    def start(self) -> Slapd:
        super().start()
        self.ldapadd(
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
            "dc: lincoln\no: Lincoln\n\n"
        )
        return self

    def add_user(self, name: str, password: str, display_name: str = "") -> uuid.UUID:
        guid = uuid.uuid4()
        self.ldapadd(
            f"dn: cn={name},{SUFFIX}\nobjectClass: user\ncn: {name}\nsn: {name}\n"
            f"displayName: {display_name or name}\nsAMAccountName: {name}\n"
            "objectCategory: person\nuserAccountControl: 512\n"
            f"objectGUID:: {base64.b64encode(guid.bytes_le).decode()}\n"
            f"userPassword: {password}\n\n"
        )
        return guid

    def add_group(self, name: str, *members: str) -> None:
        lines = "".join(f"member: cn={m},{SUFFIX}\n" for m in members)
        self.ldapadd(
            f"dn: cn={name},{SUFFIX}\nobjectClass: group\ncn: {name}\n{lines}\n"
        )
