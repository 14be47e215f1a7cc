PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE asktell_studies (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	uid VARCHAR(32) NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	loop_name VARCHAR(64) NOT NULL, 
	core TEXT NOT NULL, 
	version BIGINT NOT NULL, 
	base_version BIGINT NOT NULL, 
	revision VARCHAR(32) NOT NULL, 
	n_trials INTEGER NOT NULL, 
	token_hash VARCHAR(64), 
	pending_timeout_s FLOAT, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	UNIQUE (uid), 
	UNIQUE (name)
);
INSERT INTO asktell_studies VALUES(1,'3cd954762e38e19719837183362c7f12','old','sobol','{"format":"asktell.state","schema_version":2,"loop_name":"sobol","loop_config":{},"space":{"x":{"type":"real","low":-2.0,"high":2.0,"log":false},"k":{"type":"integer","low":1,"high":5,"log":false}},"seed":4,"counter":1,"memo":{"sobol_issued":4},"problem":{"n_objectives":1}}',6,1,'0ed51f1bb48847bf8a9526f292f78345',5,NULL,NULL,1796132150.5617752075,1796132150.6786136626);
CREATE TABLE asktell_meta (
	"key" VARCHAR(64) NOT NULL, 
	value VARCHAR(256) NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO asktell_meta VALUES('schema','1');
CREATE TABLE asktell_trials (
	study_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	value TEXT NOT NULL, 
	objective FLOAT, 
	params TEXT NOT NULL, 
	metadata TEXT NOT NULL, 
	asked_at FLOAT NOT NULL, 
	told_at FLOAT, 
	version BIGINT NOT NULL, 
	PRIMARY KEY (study_id, trial_id), 
	FOREIGN KEY(study_id) REFERENCES asktell_studies (id)
);
INSERT INTO asktell_trials VALUES(1,0,'completed','0.75',0.75,'{"x":0.6841390132904053,"k":3}','{}',1796132150.6356763839,1796132150.6545994282,3);
INSERT INTO asktell_trials VALUES(1,1,'completed','-0.5',-0.5,'{"x":-1.6863398142158985,"k":2}','{}',1796132150.6356763839,1796132150.668593645,4);
INSERT INTO asktell_trials VALUES(1,2,'failed','null',NULL,'{"x":-0.9599982500076294,"k":4}','{}',1796132150.6356763839,1796132150.6757392883,5);
INSERT INTO asktell_trials VALUES(1,3,'pending','null',NULL,'{"x":1.958286091685295,"k":1}','{}',1796132150.6356763839,NULL,2);
INSERT INTO asktell_trials VALUES(1,4,'completed','1.25',1.25,'{"x":0.5,"k":2}','{"added":true}',1796132150.6786136626,1796132150.6786136626,6);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('asktell_studies',1);
CREATE INDEX asktell_trials_status ON asktell_trials (study_id, status, asked_at);
CREATE INDEX asktell_trials_version ON asktell_trials (study_id, version);
CREATE INDEX asktell_trials_objective ON asktell_trials (study_id, objective);
COMMIT;
