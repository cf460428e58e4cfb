"""Contractor management (issue 10): archive, self-service, entry with training and exams,
access cards. Importing the package registers the approval kind ``contractor.entry`` and the
expiry reminder sources.

Modules: ``archive`` (registers, people, attachments, blacklist look-ups), ``documents``
(pure document rules), ``pii`` (ID-card numbers), ``exams`` (pure papers and grading),
``entry`` (application → exam → approval → card), ``access_control`` (the HTTP contract),
``access_sim`` (a simulator of it), ``training_import`` (Excel: questions, three-level
training), ``attendance`` (import, counts), ``expiry`` (reminder sources); ``stop_work`` and
``lists`` register the stop-work/resume and blacklist-removal approval kinds.
"""

from workflows.contractors import entry, expiry, lists, stop_work  # noqa: F401  (registrations)
