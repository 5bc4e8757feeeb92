package apptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSecurityThroughTheBinary: development mode refuses a non-loopback
// address; "nextbest keys new" prints a key and a configuration entry
// that the service then accepts; SIGHUP reloads the keys without a
// restart; with tls_cert and tls_key the service speaks HTTPS to a client
// that trusts the certificate (made here), and nothing in plain HTTP.
func TestSecurityThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	dir := t.TempDir()

	// development mode is loopback only
	line := serveFails(t, "serve", "--data", filepath.Join(dir, "d0"), "--addr", "0.0.0.0:0", "--profiles", "none")
	if !strings.Contains(line, "without API keys") {
		t.Errorf("non-loopback without keys: %s", line)
	}

	// two keys made by the CLI
	newKey := func(name, scopes string) (key, entry string) {
		out := runCLI(t, "keys", "new", "--name", name, "--scopes", scopes)
		m := regexp.MustCompile(`key: (nb_\S+)`).FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "sha256:") {
			t.Fatalf("keys new:\n%s", out)
		}
		i := strings.Index(out, "    - name:")
		if i < 0 {
			t.Fatalf("keys new prints no entry:\n%s", out)
		}
		return m[1], out[i:]
	}
	readKey, readEntry := newKey("dash", "read")
	decideKey, decideEntry := newKey("shop", "decide,ingest")
	certFile, keyFile, pool := selfSigned(t, dir)
	config := filepath.Join(dir, "nextbest.yaml")
	write := func(entries ...string) {
		doc := "tls_cert: " + certFile + "\ntls_key: " + keyFile + "\nauth:\n  keys:\n" + strings.Join(entries, "")
		if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(readEntry)

	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--config", config, "--data", filepath.Join(dir, "d1"), "--addr", addr)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path, key string) int {
		req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := tlsClient.Do(req)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(20 * time.Second)
	for get("/readyz", "") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("not ready over HTTPS:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control
	}
	if c := get("/v1/stats", readKey); c != 200 {
		t.Errorf("read key over HTTPS: %d", c)
	}
	if c := get("/v1/stats", ""); c != 401 {
		t.Errorf("no key: %d", c)
	}
	if c := get("/v1/stats", decideKey); c != 401 {
		t.Errorf("a key not yet configured: %d", c)
	}
	// plain HTTP to the TLS port gets no API answer
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered on the TLS port")
		}
	}

	// SIGHUP: the configuration's keys are reloaded, no restart
	write(readEntry, decideEntry)
	cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(10 * time.Second)
	for get("/v1/stats", decideKey) != 403 { // known now, but without the read scope
		if time.Now().After(deadline) {
			t.Fatalf("the reloaded key is not known:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c := get("/v1/stats", readKey); c != 200 {
		t.Errorf("the read key after the reload: %d", c)
	}
	if strings.Contains(log.String(), decideKey) || strings.Contains(log.String(), readKey) {
		t.Error("a key is in the log")
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key,
// and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nextbest test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// syncBuffer is a buffer a process writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
