//go:build !unix

package gitstore

import "os"

// mapFile reads a file into memory where it cannot be mapped.
func mapFile(path string) (data []byte, unmap func(), err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() {}, nil
}
