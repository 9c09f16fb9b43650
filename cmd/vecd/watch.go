package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// watchDebounce lets an editor finish writing (several events per save)
// before the file is read.
const watchDebounce = 250 * time.Millisecond

// watchFile calls changed once the configuration file has been written,
// created or renamed into place and then left alone for watchDebounce,
// until ctx ends. It watches the file's directory, so that editors that
// save by renaming a new file over the old one are seen too.
func watchFile(ctx context.Context, log *zap.Logger, path string, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		var fire <-chan time.Time
		var timer *time.Timer
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) != path || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
					continue
				}
				if timer == nil {
					timer = time.NewTimer(watchDebounce)
				} else {
					timer.Reset(watchDebounce)
				}
				fire = timer.C
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("watching the configuration file", zap.Error(err))
			case <-fire:
				fire = nil
				changed()
			}
		}
	}()
	return nil
}
