package httpapi_test

import (
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/store/storetest"
)

// A rejection through the admin API is emailed to the user with the
// reviewer's reason and sent as a signed verification.rejected webhook;
// the submission before it was emailed too.
func TestVerificationRejectionIsEmailedAndSent(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := startKYCNode(t, dbURL)
	platform := newWebhookReceiver(t)
	platform.register(t, n, "verification.rejected")
	const email = "hedy@example.com"
	session := n.signUp(t, email)
	vid := n.readyForReview(t, session)
	n.Email(t, email, "We received your verification")
	item := n.admin(t, "GET", "/admin/v1/verifications", nil).expect(t, 200, "").body["verifications"]
	userID, _ := asList(item)[0].(map[string]any)["user_id"].(string)
	if userID == "" {
		t.Fatalf("queue item without a user: %v", item)
	}

	n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/reject", map[string]any{"reason": "The passport has expired."}).expect(t, 200, "")
	body := platform.next(t, "verification.rejected")
	data, _ := body["data"].(map[string]any)
	if data["user_id"] != userID || data["verification_id"] != vid || data["reason"] != "The passport has expired." ||
		data["tier"] != 0.0 || data["decided_at"] == nil {
		t.Fatalf("verification.rejected webhook %v", body)
	}
	if text := n.Email(t, email, "We could not verify your identity"); !strings.Contains(text, "The passport has expired.") {
		t.Fatalf("the rejection email does not give the reason:\n%s", text)
	}
}
