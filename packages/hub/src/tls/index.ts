export { type CertificateOptions, createTestCa, issueCertificate, selfSignedCertificate } from './device-certs.js';
export { type CaFiles, ensureCa, ensureTlsMaterial, type TlsMaterial, tlsDir } from './material.js';
export { createCa, issueServerCert, type KeyAndCert, sanList, sansOf, serverCertFits } from './pki.js';
