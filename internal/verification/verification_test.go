package verification

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestStateMachine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from, event, to string
		ok              bool
	}{
		{StatusNotStarted, EventEdit, StatusInProgress, true},
		{StatusNotStarted, EventSubmit, "", false},
		{StatusInProgress, EventEdit, StatusInProgress, true},
		{StatusInProgress, EventSubmit, StatusPendingReview, true},
		{StatusInProgress, EventApprove, "", false},
		{StatusPendingReview, EventEdit, "", false},
		{StatusPendingReview, EventApprove, StatusApproved, true},
		{StatusPendingReview, EventReject, StatusRejected, true},
		{StatusPendingReview, EventRequestResubmission, StatusResubmissionRequested, true},
		{StatusResubmissionRequested, EventEdit, StatusInProgress, true},
		{StatusResubmissionRequested, EventSubmit, "", false},
		{StatusApproved, EventEdit, "", false},
		{StatusApproved, EventReject, "", false},
		{StatusRejected, EventApprove, "", false},
	} {
		to, err := Next(c.from, c.event)
		if c.ok != (err == nil) || (c.ok && to != c.to) || (!c.ok && !errors.Is(err, ErrTransition)) {
			t.Errorf("%s --%s--> %q, %v; want %q ok=%v", c.from, c.event, to, err, c.to, c.ok)
		}
	}
}

func TestMissing(t *testing.T) {
	t.Parallel()
	tiers := DefaultTiers()
	if got := Missing(tiers[2], []string{RequireEmailVerified, RequireSelfie}); !slices.Equal(got, []string{RequirePersonalInfo, RequireIDDocument}) {
		t.Errorf("Missing = %v", got)
	}
	if tiers[0].PerTransaction != 0 || tiers[1].PerTransaction == 0 || tiers[2].Rolling24h <= tiers[1].Rolling24h {
		t.Error("default limits must grow with the tier, tier 0 allowing no withdrawals")
	}
}

func TestPersonalInfoValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	good := PersonalInfo{LegalName: "  Zoë  Ó'Brien-Łukasz ", DateOfBirth: "1990-04-23", Country: " de ",
		Address: Address{Line1: "Hauptstraße 1", City: "Berlin", PostalCode: "10115"}}.Normalize()
	if errs := good.Validate(now, 18); len(errs) != 0 || good.LegalName != "Zoë Ó'Brien-Łukasz" || good.Country != "DE" {
		t.Fatalf("good info refused: %+v (%+v)", errs, good)
	}
	for _, c := range []struct {
		name  string
		edit  func(*PersonalInfo)
		field string
		code  string
	}{
		{"no name", func(p *PersonalInfo) { p.LegalName = "" }, "legal_name", "required"},
		{"digits in name", func(p *PersonalInfo) { p.LegalName = "R2D2 Droid" }, "legal_name", "invalid"},
		{"markup in name", func(p *PersonalInfo) { p.LegalName = "<b>Eve</b>" }, "legal_name", "invalid"},
		{"date format", func(p *PersonalInfo) { p.DateOfBirth = "23/04/1990" }, "date_of_birth", "invalid"},
		{"impossible date", func(p *PersonalInfo) { p.DateOfBirth = "1990-02-30" }, "date_of_birth", "invalid"},
		{"future", func(p *PersonalInfo) { p.DateOfBirth = "2030-01-01" }, "date_of_birth", "in_future"},
		{"seventeen", func(p *PersonalInfo) { p.DateOfBirth = "2008-11-25" }, "date_of_birth", "too_young"},
		{"eighteen today", func(p *PersonalInfo) { p.DateOfBirth = "2008-11-24" }, "", ""},
		{"unknown country", func(p *PersonalInfo) { p.Country = "XX" }, "country", "unknown_country"},
		{"country name", func(p *PersonalInfo) { p.Country = "Germany" }, "country", "unknown_country"},
		{"no street", func(p *PersonalInfo) { p.Address.Line1 = "" }, "address.line1", "required"},
		{"control char", func(p *PersonalInfo) { p.Address.City = "Ber\x00lin" }, "address.city", "invalid"},
		{"long postal code", func(p *PersonalInfo) { p.Address.PostalCode = "123456789012345678901" }, "address.postal_code", "too_long"},
	} {
		p := good
		c.edit(&p)
		errs := p.Validate(now, 18)
		if c.field == "" {
			if len(errs) != 0 {
				t.Errorf("%s: refused %+v", c.name, errs)
			}
			continue
		}
		if len(errs) != 1 || errs[0].Field != c.field || errs[0].Code != c.code {
			t.Errorf("%s: %+v, want %s %s", c.name, errs, c.field, c.code)
		}
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	leap := time.Date(2008, 2, 29, 0, 0, 0, 0, time.UTC)
	if Age(leap, time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)) != 17 || Age(leap, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) != 18 {
		t.Error("a 29 February birthday counts from 1 March in common years")
	}
}
