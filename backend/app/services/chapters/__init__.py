"""Chapters and a summary per transcript: found from its passages (app/services/chapters/finding.py)
in a worker process, stored, and read by `GET /transcripts/{id}/chapters`.

Computed by the embed job once a transcript's vectors are in (so topic changes are found in
meaning, any language), or on first read for a transcript stored before; from words (tf-idf)
when there are no vectors. A video whose description lists its chapters keeps those.

Its modules: `finding` (the topic changes, pure computation), `titles` (naming them with the
language model), `storing` (reading a transcript's passages, finding in a worker process, and
storing). This file imports none of them: a pool process that imports `finding` for its work
imports this package first, and would otherwise pay for the database stack `storing` needs.
"""
