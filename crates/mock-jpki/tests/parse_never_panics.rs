//! Certificates come from cards, so their parser must reject any bytes without panicking.

use std::sync::OnceLock;
use std::time::SystemTime;

use mock_jpki::{MockJpkiCa, verify_auth_cert, verify_pkcs1_sha256};
use proptest::prelude::*;

fn ca() -> &'static MockJpkiCa {
    static CA: OnceLock<MockJpkiCa> = OnceLock::new();
    CA.get_or_init(|| MockJpkiCa::generate(11).unwrap())
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_rejected_not_panicked(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(verify_auth_cert(ca().ca_cert_der(), &bytes, SystemTime::now()).is_err());
        prop_assert!(verify_pkcs1_sha256(&bytes, b"m", &[0u8; 256]).is_err());
    }

    #[test]
    fn corrupted_ca_certificate_never_verifies(pos in 0usize..1000, xor in 1u8..=255) {
        let mut der = ca().ca_cert_der().to_vec();
        let i = pos % der.len();
        der[i] ^= xor;
        // The self-signed CA certificate must not verify as a leaf of itself once corrupted.
        prop_assert!(verify_auth_cert(ca().ca_cert_der(), &der, SystemTime::now()).is_err()
            || der == ca().ca_cert_der());
    }
}
