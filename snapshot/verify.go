package snapshot

// Info describes a snapshot file that Verify checked.
type Info struct {
	Header
	FileSize int64 // size of the file in bytes
	RawBytes int64 // length of the uncompressed record stream; FileSize/RawBytes is the compression ratio
}

// Verify reads the whole snapshot file at path and checks everything Read
// checks: header, every record's framing and order, the record count, every
// checksum, the footer, the file's length. It allocates nothing per record.
//
// Damage is returned as a *dberr.CorruptionError that names the file, the
// position and what is wrong. On error, Info holds what was learned before
// the damage (the header, if it was sound, and the file size).
func Verify(path string, opts *Options) (Info, error) {
	lim, err := opts.resolve()
	if err != nil {
		return Info{}, err
	}
	res, err := decodeFile(path, lim, nil)
	return Info{Header: res.h, FileSize: res.size, RawBytes: res.rawLen}, err
}
