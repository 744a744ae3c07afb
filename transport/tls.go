package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// FallbackTLS is the reason of every fallback a TLS connection makes:
// splice, io_uring and the sockmap move bytes the kernel would have to
// encrypt, and with crypto/tls only user space does (see
// [features.HaveKTLS]).
const FallbackTLS = "tls"

// AuthTLS is the reason of a refusal for a failed TLS handshake: no
// client certificate, one from another CA, no TLS at all.
const AuthTLS = "tls"

// errTLS is why a TLS connection does not use an accelerator.
var errTLS = errors.New("user-space TLS: splice, io_uring and the sockmap cannot carry its records")

// TLS is the tcp path's TLS 1.3 with client certificates: this node's
// certificate, and the CA its peers' certificates must chain to. Give the
// same TLS to the process's Peers and Servers (DialOptions.TLS,
// ServerOptions.TLS). A peer is any holder of a certificate from the CA,
// whatever its address: use a CA of the cluster's own.
type TLS struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// LoadTLS reads this node's certificate and key (PEM) and the CA
// certificates (PEM) that peers' certificates must chain to.
func LoadTLS(certFile, keyFile, caFile string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", caFile)
	}
	return &TLS{cert: cert, pool: pool}, nil
}

// client is the dialer's configuration: TLS 1.3, this node's certificate,
// and the listener's chain checked against the CA. The address is not
// checked against the certificate's names: membership is the CA's.
func (t *TLS) client() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{t.cert},
		InsecureSkipVerify: true, // the chain is checked below, the name is not
		VerifyConnection: func(cs tls.ConnectionState) error {
			return t.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
		},
	}
}

// server is the listener's configuration: TLS 1.3, a client certificate
// required and checked against the CA, no session tickets (an idle
// connection's socket holds nothing unread, which Peer's liveness check
// relies on).
func (t *TLS) server() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{t.cert},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              t.pool,
		SessionTicketsDisabled: true,
	}
}

// verify checks that certs chain to the CA for usage.
func (t *TLS) verify(certs []*x509.Certificate, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return errors.New("tls: the peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: t.pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return fmt.Errorf("tls: the peer's certificate: %w", err)
	}
	return nil
}
