"""A second, non-Samba directory for tests: OpenLDAP's slapd through python-ldap's
`slapdtest`, with the AD attributes a sign-in and a sync read
(adlike-schema.ldif), on ldap:// with StartTLS, its certificate from python-ldap's
test CA.

Like Active Directory it answers at most 1,000 entries to a search that does
not page (its size limit), keeps each user's memberOf (the memberof overlay),
and is read by a service account (SERVICE_DN) that the limit applies to.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import uuid
from pathlib import Path

import slapdtest

PACKAGES = "slapd ldap-utils"
SUFFIX = "dc=lincoln,dc=example,dc=edu"
SERVICE_DN = f"cn=roster-sync,{SUFFIX}"
SERVICE_PASSWORD = "Roster-Sync-Pass-1"
# AD's MaxPageSize: a search without paging gets no more.
SIZE_LIMIT = 1000
ENABLED, DISABLED = 512, 514  # userAccountControl: a normal account, and disabled
CONFIG = (
    slapdtest.SlapdObject.slapd_conf_template.replace(
        "olcModuleLoad: back_%(database)s",
        "olcModuleLoad: back_%(database)s\nolcModuleLoad: memberof",
    ).replace(
        "dn: olcDatabase=%(database)s,cn=config",
        "dn: olcDatabase={1}%(database)s,cn=config",
    )
    + f"olcSizeLimit: size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} "
    "size.prtotal=unlimited\n"
    # 1 GiB of address space (a sparse file), for the benchmark's 100,000 users.
    "olcDbMaxSize: 1073741824\n"
)
# Loaded after the schemas, which define `member`.
MEMBER_OF = (
    "dn: olcOverlay=memberof,olcDatabase={1}mdb,cn=config\n"
    "objectClass: olcOverlayConfig\n"
    "objectClass: olcMemberOf\n"
    "olcOverlay: memberof\n"
    "olcMemberOfGroupOC: group\n"
    "olcMemberOfMemberAD: member\n"
    "olcMemberOfMemberOfAD: memberOf\n"
    "olcMemberOfRefInt: TRUE\n"
)


def available() -> str | None:
    if not shutil.which("slapd", path="/usr/sbin:/usr/local/sbin:/usr/bin"):
        return f"OpenLDAP's slapd is not installed (apt-get install {PACKAGES})"
    if not shutil.which("ldapadd"):
        return f"OpenLDAP's tools are not installed (apt-get install {PACKAGES})"
    return None


def user_ldif(
    name: str,
    *,
    password: str = "",
    display_name: str = "",
    mail: str = "",
    control: int = ENABLED,
    guid: uuid.UUID | None = None,
) -> str:
    """The LDIF of a user entry, as AD has it."""
    guid = guid or uuid.uuid4()
    return (
        f"dn: cn={name},{SUFFIX}\nobjectClass: user\ncn: {name}\nsn: {name}\n"
        f"displayName: {display_name or name}\nsAMAccountName: {name}\n"
        f"objectCategory: person\nuserAccountControl: {control}\n"
        f"objectGUID:: {base64.b64encode(guid.bytes_le).decode()}\n"
        + (f"mail: {mail}\n" if mail else "")
        + (f"userPassword: {password}\n" if password else "")
        + "\n"
    )


class Slapd(slapdtest.SlapdObject):
    TMPDIR = tempfile.gettempdir()  # not the working directory, slapdtest's default
    suffix = SUFFIX
    slapd_conf_template = CONFIG
    openldap_schema_files = (
        "core.ldif",
        "cosine.ldif",
        "inetorgperson.ldif",
        str(Path(__file__).with_name("adlike-schema.ldif")),
    )

    def __init__(self, seed: Path | None = None) -> None:
        """`seed`: an LDIF file of entries loaded before the server starts
        (slapadd: 100,000 users in seconds, for the benchmark)."""
        super().__init__()
        self.seed = seed

    def _write_config(self) -> None:
        super()._write_config()
        self.slapadd(MEMBER_OF, ["-n0"])
        self.slapadd(
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
            "dc: lincoln\no: Lincoln\n\n"
            f"dn: {SERVICE_DN}\nobjectClass: person\ncn: roster-sync\n"
            f"sn: roster-sync\nuserPassword: {SERVICE_PASSWORD}\n\n",
            ["-n1"],
        )
        if self.seed is not None:
            self.slapadd(None, ["-n1", "-q", "-l", str(self.seed)])

    def start(self) -> Slapd:
        super().start()
        return self

    def add_user(
        self, name: str, password: str = "", display_name: str = "", **fields
    ) -> uuid.UUID:
        guid = fields.pop("guid", None) or uuid.uuid4()
        self.ldapadd(
            user_ldif(
                name,
                password=password,
                display_name=display_name,
                guid=guid,
                **fields,
            )
        )
        return guid

    def modify(self, name: str, **values: str) -> None:
        """Replace attributes of an entry: modify("jsmith", mail="j@x.edu")."""
        changes = "-\n".join(
            f"replace: {attribute}\n{attribute}: {value}\n"
            for attribute, value in values.items()
        )
        self.ldapmodify(f"dn: cn={name},{SUFFIX}\nchangetype: modify\n{changes}\n")

    def delete(self, name: str) -> None:
        self.ldapdelete(f"cn={name},{SUFFIX}")

    def add_group(self, name: str, *members: str) -> None:
        lines = "".join(f"member: cn={m},{SUFFIX}\n" for m in members)
        self.ldapadd(
            f"dn: cn={name},{SUFFIX}\nobjectClass: group\ncn: {name}\n{lines}\n"
        )
