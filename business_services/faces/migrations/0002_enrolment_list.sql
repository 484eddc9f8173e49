-- The back office's list of all enrolments (人脸库), newest first and paged by keyset (views.enrolment_page).
CREATE INDEX face_enrolments_newest ON business.face_enrolments (enrolled_at DESC, id DESC);
