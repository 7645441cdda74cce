"""Service reports (issue 11): availability per camera, hamlet, kind and commune for a period.

``availability`` is the pure computation (table-tested), ``build`` reads the database into it, ``render``
writes CSV, the print page and the PDF (WeasyPrint, from the same template).
"""
