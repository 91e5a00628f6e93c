// Package mask turns a decrypted field value into a masked one for callers
// whose policy action is "mask".
//
// A masked value is always a JSON string that starts with Prefix ("fsm:"),
// then the masked text: "fsm:j***@example.com". The prefix is what makes a
// masked value recognisable when a client writes it back: on a write route
// the proxy refuses (422) any protected field whose value IsMasked, so a mask
// can never overwrite the stored sealed value. Like the sealed-value prefix
// "fs1:", it is short, ASCII and not something real data starts with.
//
// Formats reveal a fixed, documented amount and nothing else:
//
//	email   first character of the local part, "***", then "@domain"   j***@example.com
//	phone   last 4 digits (at most half of them); separators kept        ***-****-5678
//	name    first character of each word, then "***"                    J*** D***
//	card    last 4 digits (at most half of them); separators kept        **** **** **** 1111
//	kr_rrn  birth date and the gender digit of a resident number        900101-1******
//	custom  keep_first / keep_last characters, the rest as char         a*****xyz
//	full    nothing                                                     ***
//
// Lengths are hidden where the format allows ("***" is fixed); digit and
// custom formats keep one mask character per hidden character, as their
// layout is the point. A value too short to hide anything under its format
// is masked entirely. Non-string values (numbers, booleans, objects, arrays,
// null) are always "fsm:***". Masking works on runes, so multi-byte text is
// never split; invalid UTF-8 counts as one hidden character per bad byte.
package mask
