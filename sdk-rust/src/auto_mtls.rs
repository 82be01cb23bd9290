//! go-plugin's AutoMTLS, plugin side (PW-GP-3).
//!
//! A go-plugin client with `AutoMTLS` puts a one-time certificate in
//! `PLUGIN_CLIENT_CERT` (PEM) and expects the plugin to answer with its own
//! one-time certificate in the sixth field of the bootstrap line (base64 DER,
//! no padding), then to speak TLS on the socket and accept only that client
//! certificate. The certificate is pinned byte for byte rather than checked as
//! a chain: it is self-signed and marked as a CA, which chain verifiers refuse
//! as a leaf, and nothing but that exact certificate may connect anyway.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use plugwire_proto::constants::ENV_CLIENT_CERT;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, PrivateKeyDer, PrivatePkcs8KeyDer,
    SignatureVerificationAlgorithm, UnixTime, alg_id,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

/// A PEM certificate is a few hundred bytes; anything far larger is not one.
const MAX_CLIENT_CERT_LEN: usize = 16 * 1024;

/// The TLS side of one serving plugin.
pub(crate) struct AutoMtls {
    pub(crate) acceptor: TlsAcceptor,
    /// The plugin's certificate as the bootstrap line carries it.
    pub(crate) server_cert: String,
}

impl AutoMtls {
    /// Reads `PLUGIN_CLIENT_CERT`; `Ok(None)` when it is absent or empty
    /// (plaintext, as go-plugin servers do).
    pub(crate) fn from_env() -> Result<Option<Self>, String> {
        match std::env::var(ENV_CLIENT_CERT) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                "{ENV_CLIENT_CERT} is not UTF-8: expected one PEM certificate; unset it to serve without TLS"
            )),
            Ok(pem) if pem.trim().is_empty() => Ok(None),
            Ok(pem) => Self::for_client(&pem).map(Some),
        }
    }

    /// Generates this plugin's certificate and a TLS acceptor that admits
    /// only `client_pem`.
    pub(crate) fn for_client(client_pem: &str) -> Result<Self, String> {
        if client_pem.len() > MAX_CLIENT_CERT_LEN {
            return Err(format!(
                "{ENV_CLIENT_CERT} is {} bytes, over the {MAX_CLIENT_CERT_LEN}-byte limit: expected one PEM certificate",
                client_pem.len()
            ));
        }
        let client = CertificateDer::from_pem_slice(client_pem.as_bytes()).map_err(|e| {
            format!(
                "{ENV_CLIENT_CERT} holds no PEM certificate ({e}): expected `-----BEGIN CERTIFICATE-----` ...; unset it to serve without TLS"
            )
        })?;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("cannot generate the plugin's TLS key: {e}"))?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .map_err(|e| format!("cannot describe the plugin's certificate: {e}"))?;
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("cannot sign the plugin's certificate: {e}"))?;
        let cert_der = cert.der().clone();
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = PinnedClient {
            pinned: client.into_owned(),
            algorithms: provider.signature_verification_algorithms,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot configure TLS: {e}"))?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![cert_der.clone()], key_der)
            .map_err(|e| format!("cannot use the plugin's certificate: {e}"))?;
        // gRPC over TLS negotiates HTTP/2 by ALPN; grpc-go refuses a server
        // that selects nothing.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            server_cert: base64::engine::general_purpose::STANDARD_NO_PAD.encode(&cert_der),
        })
    }
}

/// A client gets this long to finish its TLS handshake; a stalled one
/// must not hold a task forever.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

impl AutoMtls {
    /// The connections on `listener` that complete a TLS handshake with the
    /// pinned client, as tonic's incoming stream. Handshakes run on their
    /// own tasks, so one slow client does not delay the next.
    pub(crate) fn incoming(
        self,
        listener: UnixListener,
    ) -> ReceiverStream<std::io::Result<TlsConn>> {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    () = tx.closed() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot accept a connection");
                            continue;
                        }
                    },
                };
                let acceptor = self.acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send(Ok(TlsConn(tls))).await;
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "a TLS handshake failed; the connection is closed")
                        }
                        Err(_) => tracing::warn!(
                            "a TLS handshake took over 10 s; the connection is closed"
                        ),
                    }
                });
            }
        });
        ReceiverStream::new(rx)
    }
}

/// One accepted TLS connection, as tonic serves it.
pub(crate) struct TlsConn(tokio_rustls::server::TlsStream<UnixStream>);

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Admits exactly one client certificate.
#[derive(Debug)]
struct PinnedClient {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClient {
    fn algorithms_for(&self, scheme: SignatureScheme) -> &WebPkiSupportedAlgorithms {
        if scheme == SignatureScheme::ECDSA_NISTP521_SHA512 {
            &P521
        } else {
            &self.algorithms
        }
    }
}

impl ClientCertVerifier for PinnedClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms_for(dss.scheme))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms_for(dss.scheme))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self.algorithms.supported_schemes();
        schemes.push(SignatureScheme::ECDSA_NISTP521_SHA512);
        schemes
    }
}

/// go-plugin's clients sign with P-521, which ring does not verify.
static P521: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[&EcdsaP521Sha512],
    mapping: &[(SignatureScheme::ECDSA_NISTP521_SHA512, &[&EcdsaP521Sha512])],
};

#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p521::ecdsa::signature::Verifier as _;
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature =
            p521::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA512
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_PEM: &str = "hello";

    #[test]
    fn a_client_certificate_that_is_not_pem_is_refused_with_the_fix() {
        let err = AutoMtls::for_client(NOT_PEM).err().expect("refused");
        assert!(
            err.contains("PLUGIN_CLIENT_CERT holds no PEM certificate"),
            "{err}"
        );
        assert!(err.contains("unset it"), "{err}");
    }

    #[test]
    fn an_oversized_client_certificate_is_refused() {
        let err = AutoMtls::for_client(&"A".repeat(MAX_CLIENT_CERT_LEN + 1))
            .err()
            .expect("refused");
        assert!(err.contains("over the 16384-byte limit"), "{err}");
    }

    #[test]
    fn the_server_certificate_is_unpadded_base64_der_naming_localhost() {
        let client = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let tls = AutoMtls::for_client(&client.cert.pem()).unwrap();
        assert!(!tls.server_cert.ends_with('='));
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&tls.server_cert)
            .unwrap();
        // go-plugin tells a certificate from old "extra" data by length.
        assert!(tls.server_cert.len() > 50);
        assert!(
            der.windows(b"localhost".len()).any(|w| w == b"localhost"),
            "the certificate names localhost, the name go-plugin's client checks"
        );
    }

    #[test]
    fn only_the_pinned_certificate_is_admitted() {
        let pinned = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let verifier = PinnedClient {
            pinned: pinned.cert.der().clone(),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        };
        let now = UnixTime::now();
        assert!(
            verifier
                .verify_client_cert(pinned.cert.der(), &[], now)
                .is_ok()
        );
        assert!(
            verifier
                .verify_client_cert(other.cert.der(), &[], now)
                .is_err()
        );
        assert!(
            verifier
                .supported_verify_schemes()
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
        );
    }

    #[test]
    fn p521_signatures_verify_and_forgeries_do_not() {
        use p521::ecdsa::signature::Signer as _;
        let signing = p521::ecdsa::SigningKey::random(&mut p521::elliptic_curve::rand_core::OsRng);
        let verifying = p521::ecdsa::VerifyingKey::from(&signing);
        let public = verifying.to_encoded_point(false);
        let signature: p521::ecdsa::Signature = signing.sign(b"handshake");
        let der = signature.to_der();
        assert!(
            EcdsaP521Sha512
                .verify_signature(public.as_bytes(), b"handshake", der.as_bytes())
                .is_ok()
        );
        assert!(
            EcdsaP521Sha512
                .verify_signature(public.as_bytes(), b"handshakE", der.as_bytes())
                .is_err()
        );
    }
}
