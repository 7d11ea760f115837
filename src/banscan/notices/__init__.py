"""Notices from a coordinator organisation to its members: what is banned, what the member's role
must do by when, the alternatives and the public explainer, with a signed acknowledgement link.

- `compose`: the notice, from the catalog (`compose_notice`)
- `render`, `plain`, `html`, `words`: its subject and its text and HTML bodies
- `tokens`: acknowledgement links (HMAC-SHA256, expiring, one nonce each)
- `smtp`: sending it as a multipart/alternative email
"""
