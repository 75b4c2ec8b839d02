//! TLS to the stores: which certificate authorities a server's certificate
//! must chain to.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// A client configuration trusting the CAs in `roots_pem`, or the system's
/// trust store when there are none. Certificates are always verified,
/// host name included.
pub fn client_config(roots_pem: Option<&[u8]>) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    match roots_pem {
        Some(pem) => {
            for certificate in CertificateDer::pem_slice_iter(pem) {
                roots.add(certificate?)?;
            }
            anyhow::ensure!(!roots.is_empty(), "the CA file holds no certificate");
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
