package staff

import (
	"testing"

	"github.com/wardenhq/warden/internal/adminkey"
)

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, role := range Roles() {
		scopes, err := Scopes(role)
		if err != nil || adminkey.ValidateScopes(scopes) != nil {
			t.Errorf("role %s: scopes %v, %v", role, scopes, err)
		}
	}
	if Allows(RoleSupport, "verifications:review") || !Allows(RoleCompliance, "verifications:review") || !Allows(RoleAdmin, "rules:write") {
		t.Error("role scopes are not as documented")
	}
	if _, err := Scopes("root"); err == nil {
		t.Error("unknown role accepted")
	}
}
