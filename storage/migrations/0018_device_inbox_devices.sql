-- To-device messages belong to a device that exists: messages to an unknown device ID are
-- not stored (a device later created with that ID would receive them), and deleting a
-- device deletes what was waiting for it.
DELETE FROM device_inbox i
WHERE NOT EXISTS (
    SELECT 1 FROM devices d WHERE d.user_id = i.user_id AND d.device_id = i.device_id
);
ALTER TABLE device_inbox
    ADD FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
    ON DELETE CASCADE;
