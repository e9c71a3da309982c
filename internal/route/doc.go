// Package route owns speed to lead: business calendars (working hours,
// holidays, absences, time counted in business time), the routing rules
// that pick a team for a new lead, the assignment of an owner within the
// team, and the SLA clock. It is pure: no I/O, the time is passed in.
package route

// Error is a fault in a routing document, a calendar or an owner's
// settings: the field (a dotted path, "hours.mon[1]") and why.
type Error struct{ Field, Reason string }

func (e *Error) Error() string { return e.Field + ": " + e.Reason }
