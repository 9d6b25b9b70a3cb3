// Package staff defines the platform's staff roles and what each may do.
// Staff act through the same operations as admin API keys; a role is a
// fixed set of admin scopes, so a permission check is the same everywhere.
package staff

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/adminkey"
)

// Roles (API.md): support, compliance, admin.
const (
	RoleSupport    = "support"
	RoleCompliance = "compliance"
	RoleAdmin      = "admin"
)

// roleScopes maps each role to its scopes. Support answers users (look up,
// unfreeze after checking identity); compliance also reviews verifications,
// withdrawals and alerts; admin may do everything.
var roleScopes = map[string][]string{
	RoleSupport: {"users:read", "users:write", "audit:read", "alerts:read"},
	RoleCompliance: {"users:read", "users:write", "audit:read", "alerts:read", "alerts:write",
		"verifications:review", "withdrawals:read", "withdrawals:write"},
	RoleAdmin: adminkey.Scopes,
}

// Roles lists the role names, sorted.
func Roles() []string {
	out := make([]string, 0, len(roleScopes))
	for r := range roleScopes {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Scopes returns the scopes of a role, or an error naming the known roles.
func Scopes(role string) ([]string, error) {
	s, ok := roleScopes[role]
	if !ok {
		return nil, fmt.Errorf("unknown staff role %q (one of %s)", role, strings.Join(Roles(), ", "))
	}
	return slices.Clone(s), nil
}

// Allows tells whether a role holds a scope.
func Allows(role, scope string) bool {
	return slices.Contains(roleScopes[role], scope)
}
