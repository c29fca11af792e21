"""Citizen codes: short-lived ES256 JWTs that carry a sealed, unlinkable person reference.

A code can be trusted two ways. A door that is offline checks the ES256 signature against
a cached JWKS (`verify_offline`, the only thing this package loads by itself, so a door
device needs neither the database driver nor the web server). The service opens the
sealed ``ref`` instead (`codesvc.codes.ring.KeyRing.open`): AES-GCM authenticates it in
microseconds where an ES256 check costs about 100 µs.

- `codesvc.codes.offline`: the offline verifier.
- `codesvc.codes.sealing`: the code secret and the AES-GCM seals (refs, stored keys).
- `codesvc.codes.ring`: signing keys, the key ring, issuing and opening codes.
- `codesvc.codes.keystore`: the keys in PostgreSQL, their creation and rotation.
"""

from codesvc.codes.offline import ALGORITHM, COLORS, CodeRejected, OfflineVerdict, verify_offline

__all__ = ["ALGORITHM", "COLORS", "CodeRejected", "OfflineVerdict", "verify_offline"]
