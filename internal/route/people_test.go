package route_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/route"
)

func TestBookingSettings(t *testing.T) {
	t.Parallel()
	var none *route.BookingSettings
	if got, err := none.Booking(); err != nil || got != route.DefaultBooking {
		t.Errorf("nil settings = %+v, %v; want DefaultBooking", got, err)
	}
	day := 24 * time.Hour
	for _, tc := range []struct {
		in    route.BookingSettings
		want  route.Booking
		field string // the error's, when refused
	}{
		{in: route.BookingSettings{}, want: route.DefaultBooking},
		{in: route.BookingSettings{Length: "45m", Buffer: "0", Notice: "1d", Horizon: "4w", Step: "15m"},
			want: route.Booking{Length: 45 * time.Minute, Notice: day, Horizon: 28 * day, Step: 15 * time.Minute}},
		{in: route.BookingSettings{Length: " 1h30m ", Step: "0"},
			want: route.Booking{Length: 90 * time.Minute, Buffer: 10 * time.Minute, Notice: 2 * time.Hour, Horizon: 14 * day}},
		{in: route.BookingSettings{Length: "10m"}, field: "booking.length"},
		{in: route.BookingSettings{Length: "30m30s"}, field: "booking.length"},
		{in: route.BookingSettings{Length: "half an hour"}, field: "booking.length"},
		{in: route.BookingSettings{Buffer: "-5m"}, field: "booking.buffer"},
		{in: route.BookingSettings{Buffer: "3h"}, field: "booking.buffer"},
		{in: route.BookingSettings{Notice: "15d"}, field: "booking.notice"},
		{in: route.BookingSettings{Horizon: "91d"}, field: "booking.horizon"},
		{in: route.BookingSettings{Notice: "3d", Horizon: "2d"}, field: "booking.horizon"},
		{in: route.BookingSettings{Step: "7m"}, field: "booking.step"},
		{in: route.BookingSettings{Step: strings.Repeat("9", 40) + "m"}, field: "booking.step"},
	} {
		got, err := tc.in.Booking()
		if tc.field == "" {
			if err != nil || got != tc.want {
				t.Errorf("%+v.Booking() = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			continue
		}
		var re *route.Error
		if !errors.As(err, &re) || re.Field != tc.field || len(re.Reason) > 200 {
			t.Errorf("%+v.Booking() = %+v, %v; want an error on %s", tc.in, got, err, tc.field)
		}
	}
}

// TestTeamCheckRefusesBadBooking: a team's booking is checked with the
// rest of it, the error naming the setting.
func TestTeamCheckRefusesBadBooking(t *testing.T) {
	t.Parallel()
	tm := route.Team{Name: "paris", TimeZone: "Europe/Paris", Hours: map[string]string{"mon": "09:00-18:00"},
		Booking: &route.BookingSettings{Length: "5h"}}
	_, _, err := tm.Check(func(string) bool { return true })
	var re *route.Error
	if !errors.As(err, &re) || re.Field != "booking.length" {
		t.Errorf("Check = %v; want an error on booking.length", err)
	}
}
