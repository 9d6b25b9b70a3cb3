package web

// SetStaffAllows replaces staff.Allows for p, so that tests can give a role
// a set of scopes that no real role has (such as users:read without users:write).
func SetStaffAllows(p *Pages, allows func(role, scope string) bool) { p.allows = allows }
