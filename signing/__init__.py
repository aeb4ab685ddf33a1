"""Digital signing: development PKI and trust services (`pki`, `trust_services`), trust
configuration (`trust`), key loading (`signers`, `keystore`), PAdES signing, stamps and
validation (`pades`, `appearance`, `placement`, `validation`), DOCX→PDF (`convert`).

Import submodules directly; this package init stays empty so importing one part never drags in
the others (pyHanko, LibreOffice helpers, PKCS#11).
"""
