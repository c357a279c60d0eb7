"""The right to erasure: one person's personal data removed from everywhere the platform keeps
it, their business facts kept under a pseudonym.

- person.py: who the person is (their customer id, and the names, emails and phones recorded
  for it) and how a text or a record is scrubbed of them;
- rows.py: the warehouse's tables (raw, quarantine, staging, marts, features, governance);
- files.py: the files under data/ (the kept copies of rejected files, exports kept there);
- register.py: governance.erasures, the register of requests served (no personal data);
- serve.py: a request served, and a returning person (a new export bringing them back) erased
  again by the load;
- traces.py: the check that nothing of them is left.
"""
