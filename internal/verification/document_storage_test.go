package verification_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/document/documenttest"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
)

// storedDocument reads a document's row as the database holds it, content
// included.
func (e *env) storedDocument(documentID string) verification.Document {
	e.t.Helper()
	var d verification.Document
	if err := e.Store.Read(e.ctx, func(tx *store.Tx) error {
		var err error
		d, err = tx.DocumentContent(e.ctx, documentID)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// setStoredContent overwrites a document's stored content, as someone
// with access to the database could.
func (e *env) setStoredContent(documentID string, content []byte) {
	e.t.Helper()
	if err := e.Store.ExecRaw(e.ctx, `UPDATE verification_documents SET content = $1 WHERE id = $2`, content, documentID); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) viewsOf(accountID string) int {
	e.t.Helper()
	var n int
	for _, action := range e.AuditActions(e.t, accountID) {
		if action == "verification.document_viewed" {
			n++
		}
	}
	return n
}

// Documents are stored encrypted with AES-256-GCM, bound to their row,
// beside the SHA-256 of the cleaned content: the stored bytes are no JPEG,
// PNG or PDF and contain none of the plaintext; a reviewer opening one gets
// the cleaned plaintext back; a changed byte, or another document's
// ciphertext moved into the row, cannot be opened, and no view is recorded.
func TestDocumentsAreStoredEncryptedWithTheirHash(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("enc@example.com")
		uploads := []struct {
			name      string
			u         verification.Upload
			signature []byte
		}{
			{"jpeg", verification.Upload{Kind: verification.KindIDCard, Side: verification.SideFront, Data: photo(t, "jpeg", 64, 48)}, []byte("\xff\xd8\xff")},
			{"pdf", verification.Upload{Kind: verification.KindIDCard, Side: verification.SideBack, Data: documenttest.PDF(false)}, []byte("%PDF-")},
			{"png", verification.Upload{Kind: verification.KindSelfie, Data: photo(t, "png", 40, 30)}, []byte("\x89PNG\r\n\x1a\n")},
		}
		var docs []verification.Document
		var plains [][]byte
		for _, up := range uploads {
			cleaned, err := document.Clean(up.u.Data, document.DefaultLimits())
			if err != nil {
				t.Fatalf("%s: clean: %v", up.name, err)
			}
			plain := cleaned.Data
			if !bytes.HasPrefix(plain, up.signature) {
				t.Fatalf("%s: the cleaned file does not start with its own signature", up.name)
			}
			d, err := e.svc.AddDocument(e.ctx, a, verification.PurposeTier, up.u, meta)
			if err != nil {
				t.Fatalf("%s: upload: %v", up.name, err)
			}
			sum := sha256.Sum256(plain)
			wantHash := hex.EncodeToString(sum[:])

			stored := e.storedDocument(d.ID)
			if stored.SHA256 != wantHash || d.SHA256 != wantHash || stored.Size != int64(len(plain)) {
				t.Errorf("%s: stored hash %s (answered %s), size %d; want the SHA-256 of the cleaned content %s, size %d",
					up.name, stored.SHA256, d.SHA256, stored.Size, wantHash, len(plain))
			}
			sealed := stored.Sealed
			if len(sealed) == 0 {
				t.Fatalf("%s: nothing stored", up.name)
			}
			// Not a file of any accepted type, even after a short header (a
			// random 3-byte match further in would be chance, not a leak).
			for _, sig := range [][]byte{[]byte("\xff\xd8\xff"), []byte("\x89PNG"), []byte("%PDF")} {
				for skip := 0; skip <= 64 && skip < len(sealed); skip++ {
					if bytes.HasPrefix(sealed[skip:], sig) {
						t.Errorf("%s: the stored bytes hold the file signature %q at %d", up.name, sig, skip)
					}
				}
			}
			for _, part := range [][]byte{plain, up.u.Data, plain[:32], plain[len(plain)/2 : len(plain)/2+32], plain[len(plain)-32:]} {
				if bytes.Contains(sealed, part) {
					t.Errorf("%s: the stored bytes contain plaintext", up.name)
					break
				}
			}

			// The format: version, key id, 12-byte nonce, then the AES-256-GCM
			// ciphertext and tag, with the row as additional data. Opened here
			// by hand, with the key the keyring seals under.
			if len(sealed) < 2 || int(sealed[1]) > len(sealed)-2 {
				t.Fatalf("%s: stored %d bytes, not a sealed value", up.name, len(sealed))
			}
			keyID := string(sealed[2 : 2+int(sealed[1])])
			if keyID != stored.KeyID || keyID != e.svc.Keys.PrimaryID() {
				t.Errorf("%s: sealed under key %.40q, the row says %q, the primary key is %q", up.name, keyID, stored.KeyID, e.svc.Keys.PrimaryID())
			}
			key, err := e.svc.Keys.Derive(keyID, "seal")
			if err != nil || len(key) != 32 {
				t.Fatalf("%s: the sealing key is %d bytes (%.80v), want 32 for AES-256", up.name, len(key), err)
			}
			block, _ := aes.NewCipher(key)
			gcm, _ := cipher.NewGCM(block)
			rest := sealed[2+len(keyID):]
			if len(rest) != gcm.NonceSize()+len(plain)+gcm.Overhead() {
				t.Fatalf("%s: %d bytes after the key id for %d of plaintext, want nonce + ciphertext + tag", up.name, len(rest), len(plain))
			}
			opened, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], keyring.Binding("verification_documents", "content", d.ID))
			if err != nil || !bytes.Equal(opened, plain) {
				t.Fatalf("%s: AES-256-GCM does not open the stored bytes to the cleaned content: %v", up.name, err)
			}

			// A reviewer gets the plaintext back.
			view, err := e.svc.OpenDocument(e.ctx, d.ID, reviewer)
			if err != nil || !bytes.Equal(view.Data, plain) || view.SHA256 != wantHash {
				t.Fatalf("%s: the reviewer's view: %v (equal to the cleaned content: %v)", up.name, err, bytes.Equal(view.Data, plain))
			}
			docs, plains = append(docs, d), append(plains, plain)
		}
		o, err := e.svc.Overview(e.ctx, a.ID)
		if err != nil || len(o.Documents) != 3 {
			t.Fatalf("the three uploads are not all current: %+v %v", o.Documents, err)
		}

		// Tampering.
		views := e.viewsOf(a.ID)
		original := e.storedDocument(docs[0].ID).Sealed
		for name, content := range map[string][]byte{
			"a byte of the ciphertext changed": func() []byte {
				b := slices.Clone(original)
				b[len(b)-len(plains[0])/2] ^= 0x01
				return b
			}(),
			"the tag changed": func() []byte {
				b := slices.Clone(original)
				b[len(b)-1] ^= 0x80
				return b
			}(),
			"the nonce changed": func() []byte {
				b := slices.Clone(original)
				b[2+int(b[1])] ^= 0x01
				return b
			}(),
			"truncated":                     original[:len(original)-1],
			"another document's ciphertext": e.storedDocument(docs[1].ID).Sealed,
			"the plaintext":                 plains[0],
		} {
			e.setStoredContent(docs[0].ID, content)
			view, err := e.svc.OpenDocument(e.ctx, docs[0].ID, reviewer)
			if err == nil || errors.Is(err, verification.ErrPurged) || view.Data != nil {
				t.Errorf("%s: opening gave %d bytes, error %v; want it refused", name, len(view.Data), err)
			}
		}
		if got := e.viewsOf(a.ID); got != views {
			t.Errorf("%d views recorded for documents that could not be opened", got-views)
		}
		// Put back, it opens again.
		e.setStoredContent(docs[0].ID, original)
		if view, err := e.svc.OpenDocument(e.ctx, docs[0].ID, reviewer); err != nil || !bytes.Equal(view.Data, plains[0]) {
			t.Fatalf("the original content does not open again: %v", err)
		}
	})
}
